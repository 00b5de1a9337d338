// Finding a target description in a firmware image and a RAM dump: see from_image.h.
#include "mpheap/target/from_image.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "mpheap/io/elf_segments.h"
#include "mpheap/target/heap_growth.h"
#include "mpheap/target/image_types.h"
#include "mpheap/target/load_address.h"
#include "mpheap/target/ram_heap_search.h"
#include "mpheap/target/thread_layout.h"

namespace mpheap::target {
namespace {

constexpr std::uint64_t kMaxPoolLen = 1u << 16;

// An ARM7/ARM9 (ARM state) exception vector table at `at`: eight words, each a branch
// (`b label`, 0xEAxxxxxx) or `ldr pc, [pc, #imm]` (0xE59FFxxx); the reserved sixth may be
// anything.
bool arm_vector_table(const io::WordReader& w, std::uint64_t at) {
  for (std::uint64_t i = 0; i < 8; ++i) {
    auto v = w.at(at + 4 * i);
    if (!v) return false;
    const bool branch = (*v & 0xff000000) == 0xea000000;
    const bool ldr_pc = (*v & 0xfffff000) == 0xe59ff000;
    if (!branch && !ldr_pc && i != 5) return false;
  }
  return true;
}

// The machine and CPU class from the image: an ELF's machine, a Cortex-M vector table, an
// ARM7/ARM9 vector table at the start of a range; else a note that it is unknown.
void find_machine(const io::MemoryImage& flash, const ImageSource& source, ImageFindings& f) {
  Target& t = f.target;
  if (source.elf_machine != 0) t.machine = io::elf_machine_name(source.elf_machine);
  if (auto vt = cortex_m_vector_table(flash)) {
    t.machine = "ARM";
    t.firmware.cpu = "ARM Cortex-M";
    f.evidence.push_back(fmt::format(
        "machine: ARM Cortex-M: vector table at 0x{:x} (initial SP 0x{:x}, reset handler 0x{:x}, "
        "NMI 0x{:x}, HardFault 0x{:x}, all Thumb code inside the image)",
        vt->address, vt->initial_sp, vt->reset, vt->nmi, vt->hard_fault));
    return;
  }
  io::WordReader w{flash, 4, true};
  for (const io::MemoryRange& r : flash.ranges()) {
    if (r.address % 4 != 0 || !arm_vector_table(w, r.address)) continue;
    t.machine = "ARM";
    t.firmware.cpu = "ARM7/ARM9 class (ARM-state exception vectors)";
    f.evidence.push_back(fmt::format(
        "machine: ARM, an ARM7/ARM9-class CPU: an ARM-state exception vector table at 0x{:x} "
        "(eight `b` / `ldr pc, [pc, #x]` words){}",
        r.address, source.elf_machine != 0 ? "; the ELF header says ARM too" : ""));
    return;
  }
  if (!t.machine.empty()) {
    f.evidence.push_back(fmt::format(
        "machine: {} (the ELF header); CPU class unknown: no Cortex-M or ARM7/ARM9 vector table "
        "at the start of a loadable range",
        t.machine));
    return;
  }
  f.evidence.push_back(
      "machine unknown: no ELF header, no Cortex-M vector table (initial SP in SRAM, Thumb "
      "handlers in the image) and no ARM7/ARM9 vector table (`b` / `ldr pc` words) at the start "
      "of the image; register order for unwinding is not known");
}

}  // namespace

std::optional<CortexMVectors> cortex_m_vector_table(const io::MemoryImage& flash) {
  if (flash.ranges().empty()) return std::nullopt;
  std::uint64_t lowest = flash.ranges().front().address;
  for (const io::MemoryRange& r : flash.ranges()) lowest = std::min(lowest, r.address);
  io::WordReader w{flash, 4, true};
  auto sp = w.at(lowest);
  auto reset = w.at(lowest + 4), nmi = w.at(lowest + 8), hard = w.at(lowest + 12);
  if (!sp || !reset || !nmi || !hard) return std::nullopt;
  if (*sp < 0x20000000 || *sp > 0x40000000 || *sp % 4 != 0) return std::nullopt;
  for (std::uint64_t handler : {*reset, *nmi, *hard})
    if (handler % 2 != 1 || !flash.covers(handler - 1, 2)) return std::nullopt;
  return CortexMVectors{lowest, *sp, *reset, *nmi, *hard};
}

Expected<ImageFindings> read_image_target(const io::MemoryImage& flash, const io::MemoryImage* ram,
                                          const std::string& image_name) {
  return read_image_target(flash, ram, image_name, ImageSource{});
}

Expected<ImageFindings> read_image_target(const io::MemoryImage& flash, const io::MemoryImage* ram,
                                          const std::string& image_name,
                                          const ImageSource& source) {
  ImageFindings f;
  Target& t = f.target;
  t.word_size = source.word_size != 0 ? source.word_size : 4;
  t.little_endian = source.word_size != 0 ? source.little_endian : true;
  const std::uint64_t W = t.word_size;
  std::uint64_t image_bytes = 0;
  for (const io::MemoryRange& r : flash.ranges()) {
    image_bytes += r.bytes.size();
    t.regions.push_back(MemoryRegion{"image", RegionKind::flash, r.address, r.end()});
  }
  f.evidence.push_back(fmt::format(
      "image: {} bytes in {} range(s); {}", image_bytes, flash.ranges().size(),
      source.word_size != 0
          ? fmt::format("{}-bit {} endian (the ELF header)", 8 * W,
                        t.little_endian ? "little" : "big")
          : std::string("assumed 32-bit little endian (Cortex-M, ARM, Xtensa, RISC-V)")));
  for (const std::string& e : source.evidence) f.evidence.push_back(e);
  t.firmware.load_address = source.load_address;
  t.firmware.load_address_source = source.load_address_source;
  find_machine(flash, source, f);

  if (auto growth = split_heap_auto_evidence(flash)) {  // heap_growth.h
    t.gc_split_heap_auto = true;
    f.evidence.push_back(*growth);
  }

  // ROM qstr pools: the chain from the pool with no predecessor.
  std::vector<QstrPoolFinding> pools = find_qstr_pools(flash, t.word_size, t.little_endian);
  f.rom_pools = rom_pool_chain(pools);
  if (f.rom_pools.empty()) {
    return Error{image_name, 0, 0,
                 fmt::format("no ROM qstr pool found: looked at every word-aligned address of the "
                             "{} image bytes for a header {{prev=NULL, total_prev_len=0, alloc, "
                             "len, [hashes,] [lengths,] qstrs[len]}} whose strings verify by "
                             "their hashes or lengths ({} other verified pools); not a "
                             "MicroPython firmware?",
                             image_bytes, pools.size()),
                 ErrorKind::not_found};
  }
  const QstrPoolFinding& base = f.rom_pools.front();
  for (const QstrPoolFinding& p : f.rom_pools)
    for (const std::string& s : p.strings) t.rom_qstrs.push_back(s);
  QstrPoolLayout& q = t.qstr_pool;
  q.prev = 0;
  q.total_prev_len = W;
  q.alloc = 2 * W;
  q.len = 3 * W;
  q.hash_bytes = base.hash_bytes;
  q.len_bytes = base.len_bytes;
  if (base.arrays && base.hash_bytes != 0) {
    q.hashes = 4 * W;
    q.lengths = 5 * W;
    q.qstrs = q.size = 6 * W;
  } else if (base.arrays) {
    q.lengths = 4 * W;
    q.qstrs = q.size = 5 * W;
  } else {
    q.qstrs = q.size = 4 * W;
  }

  // Type objects, named by the qstrs.
  auto found_types = find_type_objects(flash, t.word_size, t.little_endian, t.rom_qstrs, image_name,
                                       source.function_indices);
  if (!found_types) return found_types.error();
  f.type_type = found_types->type_type;
  t.objects = default_object_layout(t.word_size);
  t.objects.type_name = found_types->name_offset;
  t.objects.type_name_bytes = found_types->name_bytes;
  t.types = std::move(found_types->types);
  for (const TypeObject& ty : t.types)
    if (!ty.symbol.empty()) t.symbols.push_back(Symbol{ty.symbol, ty.address, 0, 'R', "image"});
  for (std::string& e : found_types->evidence) f.evidence.push_back(std::move(e));
  f.evidence.push_back(fmt::format(
      "mp_type_type at 0x{:x}: its base points at itself and its name qstr (at +{}, {} bytes) "
      "is \"type\"; {} type objects have it as base and a type's shape{} ({} nameless, named "
      "by address and methods; {} other words equal to it rejected: not a type's shape)",
      f.type_type.value_or(0), found_types->name_offset, found_types->name_bytes, t.types.size(),
      found_types->slot_table ? " (1.20+ layout: slot indices exactly 1..k, slots in the image)"
                              : "",
      found_types->nameless, found_types->rejected));

  // The version, then what depends on it: the pools' names, the block map's digits.
  ImageVersion iv = find_image_version(flash, t.word_size, t.little_endian, t.types, t.rom_qstrs);
  f.version = iv.text;
  f.version_number = iv.number;
  t.firmware.micropython_version = iv.text;
  t.firmware.version_source = iv.source;
  t.firmware.banner = iv.banner;
  t.firmware.mpy = iv.mpy;
  if (iv.text.empty()) {
    // Not a version, but what the layouts found bound it by (each since a known release).
    struct Bound {
      bool seen;
      const char* since;
      const char* what;
    };
    const bool sorted_second = f.rom_pools.size() >= 2 && f.rom_pools[1].sorted;
    const Bound bounds[] = {
        {base.arrays && base.hash_bytes == 0, "1.23", "qstr pools without a hash array"},
        {sorted_second, "1.22", "a static qstr pool then a sorted one"},
        {found_types->slot_table, "1.20", "type objects with slot tables"},
        {base.arrays, "1.19", "qstr pools with length arrays"},
    };
    for (const Bound& b : bounds)
      if (b.seen) {
        iv.source += fmt::format("; the layouts bound it: {} or later ({})", b.since, b.what);
        break;
      }
    t.firmware.version_source = iv.source;
  }
  f.evidence.push_back(iv.text.empty()
                           ? fmt::format("MicroPython version {}", iv.source)
                           : fmt::format("version \"{}\": from {}", iv.text, iv.source));
  if (!iv.banner.empty()) f.evidence.push_back(fmt::format("banner: \"{}\"", iv.banner));
  const auto version = iv.number;
  const std::string named_by = name_rom_pools(f.rom_pools, version);
  for (const QstrPoolFinding& p : f.rom_pools) {
    f.evidence.push_back(fmt::format(
        "qstr pool {} at 0x{:x}: {} strings (qstrs {}..{}), all {} ({}-byte hashes, {}-byte "
        "lengths, {}){}{}",
        p.name, p.address, p.len, p.total_prev_len, p.total_prev_len + p.len - 1,
        p.hash_bytes != 0 ? "hashes verified" : "lengths verified (no hash array)", p.hash_bytes,
        p.len_bytes,
        !p.arrays           ? "stored before each string"
        : p.hash_bytes != 0 ? "hash and length arrays"
                            : "a length array, 5-word header",
        p.sorted ? ", sorted" : "",
        p.prev != 0 ? fmt::format(", prev = 0x{:x}", p.prev) : std::string()));
    t.symbols.push_back(Symbol{p.name, p.address, 0, 'R', "image"});
  }
  f.evidence.push_back(
      fmt::format("qstr pools named by their place in the chain, per {}", named_by));
  if (version && *version < std::make_pair(1, 20)) t.blockmap_offset_digits = 5;
  if (version) t.values.immediate_objs = *version >= std::make_pair(1, 13);
  if (version) {
    // Arrays since 1.19; without a hash array (MICROPY_QSTR_BYTES_IN_HASH 0) since 1.23.
    const bool want_arrays = *version >= std::make_pair(1, 19);
    const bool hashless_ok = base.hash_bytes != 0 || *version >= std::make_pair(1, 23);
    f.evidence.push_back(fmt::format(
        "the pool layout {} the version ({}; arrays since 1.19, pools without hashes since 1.23)",
        want_arrays == base.arrays && hashless_ok ? "agrees with" : "DISAGREES with",
        !base.arrays           ? "hash and length bytes before each string"
        : base.hash_bytes != 0 ? "hash and length arrays"
                               : "a length array, no hashes"));
  }
  t.provenance.qstrs = fmt::format("ROM qstr pool(s) in {} at 0x{:x}", image_name, base.address);
  t.provenance.symbols = fmt::format(
      "{}: qstr pools and type objects found by shape, named mp_type_<Python name>", image_name);
  t.provenance.layout = "not known yet: needs a RAM dump";
  t.finalize();
  if (ram == nullptr || ram->ranges().empty()) return f;

  // The RAM side: the heap by the shape of its area record (the same search as with no image).
  io::WordReader r{*ram, t.word_size, t.little_endian};
  LayoutFindings lf;
  auto heap = find_heap_areas_in_ram(*ram, t.word_size, t.little_endian);
  if (!heap) return Error{"dumps", 0, 0, heap.error().what};
  // One area found, in a build whose heap can grow: the record has `next` (NULL) in front.
  if (auto why = adopt_next_field(*heap, r, t.gc_split_heap_auto)) lf.evidence.push_back(*why);
  const HeapAreaBounds& b = heap->areas.front();
  t.block_size = heap->block_size;
  lf.evidence = std::move(heap->evidence);

  // vm.last_pool: the nearest word before the record that points at a qstr pool whose prev
  // chain, through pools in RAM, reaches one of the image's ROM pools, each link agreeing on the
  // qstr count (total_prev_len = the previous pool's total_prev_len + len). This is what ties
  // the dump to this image: a dump of another firmware has a heap too.
  const std::uint64_t total_mask = W >= 8 ? ~0ULL >> 1 : 0x7fffffffULL;  // is_sorted bit
  auto reaches_rom = [&](std::uint64_t p) {
    std::optional<std::uint64_t> total;  // total_prev_len of the pool linked from
    for (int steps = 0; p != 0 && steps < 4096; ++steps) {
      for (const QstrPoolFinding& rp : f.rom_pools)
        if (rp.address == p) return !total || *total == rp.total_prev_len + rp.len;
      auto prev = ram->covers(p, 4 * W) ? r.at(p) : std::nullopt;
      auto tpl = r.at(p + W), len = r.at(p + 3 * W);
      if (!prev || !tpl || !len || *len == 0 || *len > kMaxPoolLen) return false;
      if (total && *total != (*tpl & total_mask) + *len) return false;
      total = *tpl & total_mask;
      p = *prev;
    }
    return false;
  };
  const io::MemoryRange* record_range = nullptr;
  for (const io::MemoryRange& range : ram->ranges())
    if (b.record >= range.address && b.record < range.end()) record_range = &range;
  std::optional<std::uint64_t> last_pool_at;
  for (std::uint64_t a = b.record; record_range != nullptr && a >= record_range->address + W;) {
    a -= W;
    auto v = r.at(a);
    if (v && *v != 0 && reaches_rom(*v)) {
      last_pool_at = a;
      lf.last_pool = *v;
      break;
    }
  }
  if (!last_pool_at) {
    std::string rom;
    for (const QstrPoolFinding& rp : f.rom_pools)
      rom += fmt::format("{}0x{:x}", rom.empty() ? "" : ", ", rp.address);
    return Error{"dumps", 0, 0,
                 fmt::format("the RAM dumps do not belong to {}: they hold a heap (area record at "
                             "0x{:x}, pool 0x{:x}..0x{:x}) but no word before that record points "
                             "at a qstr pool whose prev chain leads to the image's ROM qstr "
                             "pools ({}) with matching qstr counts, as vm.last_pool does; are "
                             "the dumps from this firmware?",
                             image_name, b.record, b.pool_start, b.pool_end, rom)};
  }
  // Dicts embedded in mp_state_ctx's vm: between last_pool and the heap area record.
  const TypeObject* dict_type = nullptr;
  for (const TypeObject& ty : t.types)
    if (ty.symbol == "mp_type_dict") dict_type = &ty;
  std::vector<std::uint64_t> dicts;
  if (dict_type != nullptr)
    for (std::uint64_t a = *last_pool_at; a < b.record; a += W)
      if (r.at(a) == dict_type->address) dicts.push_back(a);
  // thread.dict_locals and thread.dict_globals: two words before vm.last_pool that both point at
  // one of those dicts (vm.dict_main, while code runs at the REPL's top level). Where
  // mp_state_ctx starts around them, and where thread.stack_top lies, depends on the version's
  // order of mp_state_thread_t (thread_layout.h, the one place that knows it).
  std::optional<std::uint64_t> ctx, dict_main;
  std::optional<ThreadStart> thread;
  for (std::uint64_t a = *last_pool_at; a >= 2 * W && !ctx && *last_pool_at - a <= 16 * W;) {
    a -= W;
    auto l = r.at(a), g = r.at(a + W);
    if (!l || !g || *l != *g || a + W >= *last_pool_at) continue;
    if (std::find(dicts.begin(), dicts.end(), *l) != dicts.end()) {
      dict_main = *l;
      thread =
          find_thread_start(r, a, std::nullopt, version, {b.pool_end, ram->ranges().back().end()});
      ctx = thread ? thread->mp_state_ctx : a;
    }
  }
  bool anchored = !ctx.has_value();
  if (!ctx) ctx = *last_pool_at;
  t.mp_state_ctx = *ctx;
  t.state.mem_area = b.record - *ctx;
  if (anchored) {
    lf.evidence.push_back(fmt::format(
        "mp_state_ctx's start not identified: offsets below are from the anchor 0x{:x} (the "
        "address of vm.last_pool)",
        *ctx));
  } else {
    lf.evidence.push_back(fmt::format(
        "mp_state_ctx at 0x{:x}: thread.dict_locals and thread.dict_globals both point at the "
        "dict embedded at 0x{:x} (vm.dict_main){}{}",
        *ctx, *dict_main, thread ? "; " : "", thread ? thread->evidence : std::string()));
  }
  t.state.vm_last_pool = *last_pool_at - *ctx;
  lf.evidence.push_back(fmt::format(
      "vm.last_pool at 0x{:x} = 0x{:x}: its prev chain reaches the ROM qstr pool, the qstr "
      "counts agreeing at each link",
      *last_pool_at, *lf.last_pool));
  if (dict_main) {
    t.state.vm_dict_main = *dict_main - *ctx;
    for (std::uint64_t d : dicts)
      if (d != *dict_main) {
        t.state.vm_mp_loaded_modules_dict = d - *ctx;
        lf.evidence.push_back(fmt::format(
            "vm.mp_loaded_modules_dict at 0x{:x}: the other dict embedded in mp_state_ctx", d));
        break;
      }
    if (thread && thread->pystack_offset) {
      t.state.thread_pystack_start = *thread->pystack_offset;
      t.state.thread_pystack_cur = *thread->pystack_offset + 2 * W;
    }
    if (thread && thread->stack_top_offset) {
      t.state.thread_stack_top = *thread->stack_top_offset;
      lf.evidence.push_back(fmt::format("thread.stack_top at 0x{:x} = 0x{:x}",
                                        *ctx + *thread->stack_top_offset,
                                        r.at(*ctx + *thread->stack_top_offset).value_or(0)));
    }
  }
  // The object representation, from the keys of __main__'s globals (all qstrs there).
  if (dict_main) {
    auto alloc = r.at(*dict_main + 2 * W), table = r.at(*dict_main + 3 * W);
    std::uint64_t keys = 0;
    const std::uint64_t known = t.rom_qstrs.size() + 4096;  // ROM qstrs plus room for RAM pools
    std::optional<char> repr;
    if (alloc && table)
      repr = infer_repr_from_map(*ram, *table, *alloc, t.word_size, t.little_endian,
                                 t.values.immediate_objs, known, &keys);
    if (repr) {
      f.object_repr = *repr;
      t.values.repr = *repr;
      t.values_known = version.has_value();
      lf.evidence.push_back(fmt::format(
          "{}: all {} keys of vm.dict_main are qstrs in that encoding{}", describe(t.values), keys,
          version ? "" : " (None/False/True assumed immediate: no version string)"));
    }
  }
  AreaLayout& al = t.state.area;
  al = AreaLayout{};
  std::uint64_t field = 0;
  if (heap->split) {
    al.next = 0;
    field = W;
  }
  al.gc_alloc_table_start = field;
  al.gc_alloc_table_byte_len = field + W;
  field += 2 * W;
  for (const std::string& name : heap->tables) {
    if (name == "finaliser") al.gc_finaliser_table_start = field;
    if (name == "weakref") al.gc_weakref_table_start = field;
    if (name == "selective-collect") al.gc_collect_table_start = field;
    field += W;
  }
  al.gc_pool_start = field;
  al.gc_pool_end = field + W;
  al.size = field + 2 * W;
  // gc_last_free_atb_index and gc_last_used_block follow in 1.21+, the versions with
  // MICROPY_GC_SPLIT_HEAP_AUTO (a new area's record is this big: heap_growth.h).
  if (t.gc_split_heap_auto) al.size += 2 * W;

  // mp_type_fun_bc among the types named "function": every function type but the bytecode one
  // (and the native emitter's, which shares its layout) is only instantiated in ROM; a function
  // defined in Python is a heap object {type, globals, bytecode, const_table, ...} whose globals
  // is a dict: vm.dict_main for a `def` at the REPL, or a module's dict on the heap. The
  // function type most of whose heap objects hold such a dict is fun_bc.
  std::map<std::uint64_t, std::uint64_t> function_objects;  // type -> count
  std::map<std::uint64_t, bool> function_type;
  for (const TypeObject& ty : t.types)
    if (ty.name == "function") function_type[ty.address] = true;
  auto in_heap = [&](std::uint64_t p) {
    return std::any_of(heap->areas.begin(), heap->areas.end(), [&](const HeapAreaBounds& h) {
      return p >= h.pool_start && p < h.pool_end;
    });
  };
  for (const HeapAreaBounds& h : heap->areas) {
    auto table = ram->bytes(h.alloc_table, h.alloc_table_bytes);
    if (!table || dict_type == nullptr) continue;
    for (std::uint64_t i = 0; i < h.blocks(); ++i) {
      const unsigned kind = alloc_table_kind(*table, i);
      if (kind != 1 && kind != 3) continue;
      std::uint64_t o = h.pool_start + i * heap->block_size;
      auto ty = r.at(o), globals = r.at(o + W);
      if (!ty || !globals || !function_type.count(*ty)) continue;
      auto is_dict = [&](std::uint64_t d) {
        return (dict_main && d == *dict_main) || (in_heap(d) && r.at(d) == dict_type->address);
      };
      // 1.19+: the second word is a module context {module {base (NULL, or mp_type_module for
      // an imported module), globals}, constants}: a heap block whose globals is such a dict.
      auto is_context = [&](std::uint64_t c) {
        auto ctx_base = r.at(c), g = r.at(c + t.objects.context_globals);
        const TypeObject* bt = ctx_base ? t.type_at(*ctx_base) : nullptr;
        return in_heap(c) && ctx_base && g &&
               (*ctx_base == 0 || (bt != nullptr && bt->address == *ctx_base)) && is_dict(*g);
      };
      if (is_dict(*globals) || is_context(*globals)) ++function_objects[*ty];
    }
  }
  if (!function_objects.empty()) {
    auto best = std::max_element(function_objects.begin(), function_objects.end(),
                                 [](auto& x, auto& y) { return x.second < y.second; });
    bool unique = std::count_if(function_objects.begin(), function_objects.end(),
                                [&](auto& x) { return x.second == best->second; }) == 1;
    if (unique) {
      f.fun_bc = best->first;
      for (TypeObject& ty : t.types)
        if (ty.address == best->first) ty.symbol = "mp_type_fun_bc";
      t.symbols.push_back(Symbol{"mp_type_fun_bc", best->first, 0, 'R', "image"});
      lf.evidence.push_back(fmt::format(
          "mp_type_fun_bc at 0x{:x}: {} heap objects of this \"function\" type hold a dict (their "
          "globals) or a module context holding one in their second word, as Python-defined "
          "functions do",
          best->first, best->second));
    }
  }
  if (!f.fun_bc)
    lf.evidence.push_back(
        "mp_type_fun_bc not identified: no heap object of a \"function\" type holds a dict as "
        "its globals (bytecode functions are shown as 'h' in block maps)");

  for (const HeapAreaBounds& h : heap->areas)
    t.regions.push_back(MemoryRegion{"heap", RegionKind::heap, h.pool_start, h.pool_end});
  for (const io::MemoryRange& range : ram->ranges())
    t.regions.push_back(MemoryRegion{"ram", RegionKind::ram, range.address, range.end()});
  t.provenance.layout = "firmware image + RAM dump (structure shapes)";
  t.finalize();
  lf.load_bias = 0;
  lf.areas = read_heap_areas(t, *ram, 0);
  f.layout = std::move(lf);
  return f;
}

}  // namespace mpheap::target
