// libFuzzer target for snapshot decoding and the graph analyses downstream of it. The input is
// a RAM dump placed at 0x20000000 of a fixed little 32-bit build: mp_state_ctx at the start,
// its heap area record at +0x20 (table, table length, pool start, pool end, next, finaliser
// table, selective-collect table), .bss over the whole dump and its last 64 bytes scanned as a
// stack. Whatever the bytes say, decoding
// gives a snapshot or one clean error, and the analyses keep their invariants.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "mpheap/heap/dominators.h"
#include "mpheap/heap/fragmentation.h"
#include "mpheap/heap/functions.h"
#include "mpheap/heap/graph.h"
#include "mpheap/heap/snapshot.h"

namespace {

constexpr std::uint64_t kRam = 0x20000000;

mpheap::target::Target fuzz_target(std::size_t size) {
  using namespace mpheap::target;
  Target t;
  t.word_size = 4;
  t.little_endian = true;
  t.block_size = 16;
  t.symbols.push_back({"mp_state_ctx", kRam, 0x40, 'B', ".bss"});
  // Built-in types at fixed ROM addresses (not in the fuzzed RAM): a type pointer in the input
  // can name any of them, so every naming pass runs on arbitrary contents.
  const char* names[][2] = {{"mp_type_str", "str"},
                            {"mp_type_list", "list"},
                            {"mp_type_dict", "dict"},
                            {"mp_type_set", "set"},
                            {"mp_type_int", "int"},
                            {"mp_type_fun_bc", "function"},
                            {"mp_type_gen_wrap", "generator"},
                            {"mp_type_module", "module"},
                            {"mp_type_type", "type"},
                            {"mp_type_bytearray", "bytearray"},
                            {"mp_type_tuple", "tuple"},
                            {"mp_type_closure", "closure"}};
  std::uint64_t at = 0x1000;
  for (const auto& [symbol, name] : names) {
    t.symbols.push_back({symbol, at, 0x30, 'R', ".rodata"});
    t.types.push_back({at, symbol, name});
    at += 0x40;
  }
  t.regions.push_back({".bss", RegionKind::bss, kRam, kRam + size});
  t.mp_state_ctx = kRam;
  t.state.size = 0x40;
  t.state.mem_area = 0x20;
  t.state.vm_dict_main = 0x08;
  t.state.vm_last_pool = 0x04;
  t.state.vm_mp_loaded_modules_dict = 0x18;
  t.state.thread_stack_top = 0x00;
  t.qstr_pool.size = 16;
  t.qstr_pool.prev = 0;
  t.qstr_pool.total_prev_len = 4;
  t.qstr_pool.alloc = 8;
  t.qstr_pool.len = 12;
  t.qstr_pool.qstrs = 16;
  t.state.area.size = 28;
  t.state.area.gc_alloc_table_start = 0;
  t.state.area.gc_alloc_table_byte_len = 4;
  t.state.area.gc_pool_start = 8;
  t.state.area.gc_pool_end = 12;
  t.state.area.next = 16;
  t.state.area.gc_finaliser_table_start = 20;
  t.state.area.gc_collect_table_start = 24;
  t.finalize();
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mpheap;
  if (size == 0 || size > (1u << 16)) return 0;
  const target::Target t = fuzz_target(size);
  io::MemoryImage ram;
  ram.add({kRam, std::vector<std::uint8_t>(data, data + size), "fuzz"});
  auto snap = heap::decode_snapshot(t, ram, 0);
  if (!snap) {
    (void)snap.error().message();
    return 0;
  }
  // The naming passes (classes, header-less blocks, functions and what they point at) and the
  // value reader on whatever the input holds.
  heap::ObjectReader reader(t, ram, *snap);
  const std::vector<heap::FunctionInfo> functions = heap::name_objects(*snap, reader, t);
  for (const heap::FunctionInfo& f : functions) (void)heap::describe(f);
  for (const auto& [name, value] : reader.globals()) (void)reader.repr(value);
  for (std::size_t i = 0; i < snap->objects.size() && i < 64; ++i)
    (void)reader.repr(snap->objects[i].address);
  heap::GraphOptions options;
  if (size > 64) options.stack = heap::AddressRange{kRam + size - 64, kRam + size};
  const heap::ObjectGraph g = heap::build_graph(t, ram, *snap, options);
  const std::size_t n = snap->objects.size();
  if (g.object_count() != n) std::abort();
  for (std::uint32_t to : g.edges)
    if (to >= n) std::abort();
  for (std::uint32_t o = 0; o < n; ++o)
    if (!heap::scanned_by_gc(snap->objects[o]) && !g.out_edges(o).empty()) std::abort();
  const heap::Reachability reach = heap::reachability(*snap, g);
  const heap::DominatorTree d = heap::dominators(*snap, g);
  if (d.total_reachable_bytes != reach.reachable_bytes) std::abort();
  for (std::uint32_t o = 0; o < n; ++o) {
    if (d.reachable[o] != reach.reachable[o]) std::abort();
    if (d.reachable[o] != 0 && d.retained_bytes[o] < snap->objects[o].blocks * g.block_size)
      std::abort();
  }
  (void)heap::top_retainers(*snap, d, 5);
  if (n > 0) (void)heap::retainer_path(*snap, g, reach, snap->objects[n / 2].address + 1);
  const std::uint64_t want = size >= 8 ? (std::uint64_t{data[size - 1]} << 8 | data[size - 2]) : 64;
  const heap::CanAllocResult r = heap::can_alloc(*snap, g, want);
  if (r.fits_now && !r.fits_after_collect) std::abort();
  if (r.largest_free_after_collect < r.largest_free_now) std::abort();
  return 0;
}
