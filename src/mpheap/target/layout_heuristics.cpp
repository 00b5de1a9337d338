// Layout heuristics: see layout_heuristics.h for the rules.
#include "mpheap/target/layout_heuristics.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "mpheap/target/thread_layout.h"

namespace mpheap::target {
namespace {

// mp_state_ctx is a few KiB on every port seen (676 bytes on the micro:bit, 1968 on the unix
// port); a larger stated size (a damaged nm or map) is not scanned beyond this.
constexpr std::uint64_t kDefaultScanBytes = 8192;
constexpr std::uint64_t kMaxScanBytes = 64 * 1024;

}  // namespace

std::optional<AreaShape> heap_area_shape(const io::WordReader& r, std::uint64_t a, int tables,
                                         bool require_covered, AreaReject* why) {
  auto reject = [&](AreaReject stage) -> std::optional<AreaShape> {
    if (why != nullptr) *why = stage;
    return std::nullopt;
  };
  const std::uint64_t W = r.word;
  auto atb = r.at(a), len = r.at(a + W);
  if (!atb || !len || *atb == 0 || *len == 0 || *len > (1ULL << 28))
    return reject(AreaReject::not_ordered);
  std::array<std::uint64_t, 3> t{};
  for (int i = 0; i < tables; ++i) {
    auto v = r.at(a + (2 + static_cast<std::uint64_t>(i)) * W);
    if (!v) return reject(AreaReject::not_ordered);
    t[static_cast<std::size_t>(i)] = *v;
  }
  auto ps = r.at(a + (2 + static_cast<std::uint64_t>(tables)) * W);
  auto pe = r.at(a + (3 + static_cast<std::uint64_t>(tables)) * W);
  if (!ps || !pe || !(*atb < *ps && *ps < *pe) || *atb + *len > *ps)
    return reject(AreaReject::not_ordered);
  if (require_covered && (!r.mem.covers(*atb, *len) || !r.mem.covers(*ps, *pe - *ps)))
    return reject(AreaReject::outside_dump);
  for (int i = 0; i < tables; ++i) {
    std::uint64_t v = t[static_cast<std::size_t>(i)];
    if (v < *atb + *len || v >= *ps) return reject(AreaReject::tables_order);
    if (i > 0 && v <= t[static_cast<std::size_t>(i - 1)]) return reject(AreaReject::tables_order);
  }
  std::uint64_t pool = *pe - *ps, blocks = *len * 4;
  if (pool % blocks != 0) return reject(AreaReject::blocks_per_byte);
  std::uint64_t bs = pool / blocks;
  if (bs != 8 && bs != 16 && bs != 32 && bs != 64 && bs != 128)
    return reject(AreaReject::blocks_per_byte);
  AreaShape s;
  s.bounds.record = a;
  s.bounds.alloc_table = *atb;
  s.bounds.alloc_table_bytes = *len;
  s.bounds.pool_start = *ps;
  s.bounds.pool_end = *pe;
  if (tables >= 1) s.bounds.finaliser_table = t[0];
  s.tables = tables;
  s.block_size = static_cast<std::uint32_t>(bs);
  s.table_starts.assign(t.begin(), t.begin() + tables);
  return s;
}

Expected<std::uint64_t> infer_load_bias(const Target& t, const io::MemoryImage& ram) {
  if (!t.mp_state_ctx) return Error{"target", 0, 0, "the target has no mp_state_ctx address"};
  if (ram.covers(*t.mp_state_ctx, t.word_size)) return std::uint64_t{0};
  for (const io::MemoryRange& r : ram.ranges()) {
    if (t.state.size != 0 && r.bytes.size() == t.state.size) return r.address - *t.mp_state_ctx;
  }
  // Say what the dumps cover and, when a region of the target holds mp_state_ctx and a dump is
  // as large as it, the @ADDR that would place the dump over it.
  std::string covered, fits;
  for (const io::MemoryRange& r : ram.ranges()) {
    covered += fmt::format("{}{} at 0x{:x}..0x{:x}", covered.empty() ? "" : ", ", r.source,
                           r.address, r.end());
    for (const MemoryRegion& region : t.regions)
      if (fits.empty() && region.start <= *t.mp_state_ctx && *t.mp_state_ctx < region.end &&
          *t.mp_state_ctx - region.start < r.bytes.size() && r.address != region.start)
        fits = fmt::format("; {}@0x{:x} (the start of {}) would cover it", r.source, region.start,
                           region.name);
  }
  return Error{"dumps", 0, 0,
               fmt::format("no dump covers mp_state_ctx at 0x{:x} (the dumps: {}){}: check each "
                           "dump's @ADDR, or give a dump that contains it, a dump of exactly "
                           "mp_state_ctx ({} bytes), or --load-bias for a position-independent "
                           "build",
                           *t.mp_state_ctx, covered.empty() ? "none" : covered, fits, t.state.size),
               ErrorKind::bad_input};
}

Expected<LayoutFindings> infer_layout(Target& t, const io::MemoryImage& ram,
                                      std::optional<std::uint64_t> bias) {
  LayoutFindings f;
  if (!t.mp_state_ctx) return Error{"target", 0, 0, "the target has no mp_state_ctx address"};
  if (bias) {
    f.load_bias = *bias;
  } else {
    auto b = infer_load_bias(t, ram);
    if (!b) return b.error();
    f.load_bias = *b;
    if (*b != 0)
      f.evidence.push_back(
          fmt::format("load bias 0x{:x}: a dump of {} bytes (sizeof mp_state_ctx) "
                      "starts there",
                      *b, t.state.size));
  }
  io::WordReader r{ram, t.word_size, t.little_endian};
  const std::uint64_t ctx = *t.mp_state_ctx + f.load_bias;
  std::uint64_t scan =
      std::min(t.state.size != 0 ? t.state.size : kDefaultScanBytes, kMaxScanBytes);
  auto reloc = [&](std::string_view sym) -> std::optional<std::uint64_t> {
    const Symbol* s = t.find_symbol(sym);
    if (s == nullptr) return std::nullopt;
    return s->address + f.load_bias;
  };

  // The heap area record.
  std::optional<std::uint64_t> area_offset;
  int tables = 0;
  std::uint32_t block_size = 0;
  for (std::uint64_t o = 0; o + 4 * t.word_size <= scan && !area_offset; o += t.word_size) {
    for (int k = 0; k <= 3; ++k) {
      if (auto shape = heap_area_shape(r, ctx + o, k, /*require_covered=*/false)) {
        area_offset = o;
        tables = k;
        block_size = shape->block_size;
        break;
      }
    }
  }
  if (!area_offset) {
    return Error{
        "dumps", 0, 0,
        fmt::format("no heap area record found in mp_state_ctx (0x{:x}, {} bytes scanned): "
                    "expected allocation table start < pool start < pool end with 4 "
                    "blocks per table byte; is the dump from this firmware?",
                    ctx, scan)};
  }
  bool has_weakref_code = std::any_of(t.symbols.begin(), t.symbols.end(), [](const Symbol& s) {
    return s.name.find("weakref") != std::string::npos;
  });
  AreaLayout& a = t.state.area;
  a = AreaLayout{};
  std::uint64_t W = t.word_size;
  std::uint64_t base = 0;
  // A split heap has `next` in front of the record.
  auto prev_word = *area_offset >= W ? r.at(ctx + *area_offset - W) : std::nullopt;
  bool split = false;
  if (prev_word && *prev_word != 0) {
    auto next = heap_area_shape(r, *prev_word + W, tables, /*require_covered=*/false);
    split = next && next->block_size == block_size;
  } else if (prev_word && *prev_word == 0) {
    split = t.find_symbol("gc_add") != nullptr;
  }
  if (split) {
    a.next = 0;
    base = W;
  }
  t.state.mem_area = *area_offset - base;
  a.gc_alloc_table_start = base;
  a.gc_alloc_table_byte_len = base + W;
  std::uint64_t next_field = base + 2 * W;
  std::vector<std::string> table_names;
  if (tables >= 1) {
    a.gc_finaliser_table_start = next_field;
    next_field += W;
    table_names.push_back("finaliser");
  }
  if (tables >= 2) {
    if (has_weakref_code) {
      a.gc_weakref_table_start = next_field;
      table_names.push_back("weakref");
    } else {
      a.gc_collect_table_start = next_field;
      table_names.push_back("selective-collect");
    }
    next_field += W;
  }
  if (tables >= 3) {
    a.gc_collect_table_start = next_field;
    next_field += W;
    table_names.push_back("selective-collect");
  }
  a.gc_pool_start = next_field;
  a.gc_pool_end = next_field + W;
  a.size = next_field + 2 * W;  // at least; the rest (last-used indices) is not read
  t.block_size = block_size;
  f.evidence.push_back(fmt::format(
      "heap area record at mp_state_ctx+{}{}: 4 blocks of {} bytes per allocation-table byte, "
      "tables: allocation{}{}",
      *t.state.mem_area, split ? " (split heap: `next` first)" : "", block_size,
      table_names.empty() ? "" : ", ", fmt::join(table_names, ", ")));

  // vm.last_pool: a word whose prev-chain reaches a ROM pool.
  std::vector<std::uint64_t> rom_pools;
  for (const char* name :
       {"mp_qstr_const_pool", "mp_qstr_frozen_const_pool", "mp_qstr_const_pool_static"})
    if (auto p = reloc(name)) rom_pools.push_back(*p);
  for (std::uint64_t o = 0; o + W <= *t.state.mem_area && !rom_pools.empty(); o += W) {
    auto v = r.at(ctx + o);
    std::optional<std::uint64_t> p = v;
    bool reached = false;
    for (int steps = 0; p && *p != 0 && steps < 256; ++steps) {
      if (std::find(rom_pools.begin(), rom_pools.end(), *p) != rom_pools.end()) {
        reached = true;
        break;
      }
      p = r.at(*p);
    }
    if (reached) {
      t.state.vm_last_pool = o;
      f.last_pool = *v;
      f.evidence.push_back(
          fmt::format("vm.last_pool at mp_state_ctx+{} = 0x{:x} ({}): its prev "
                      "chain reaches the ROM qstr pools",
                      o, *v, t.describe(*v - f.load_bias)));
      break;
    }
  }

  // vm.dict_main and vm.mp_loaded_modules_dict: dicts embedded in mp_state_ctx.
  std::optional<std::uint64_t> dict_pointer_at;  // first word of mp_state_ctx at vm.dict_main
  if (auto dict_type = reloc("mp_type_dict")) {
    std::vector<std::uint64_t> dicts;
    for (std::uint64_t o = 0; o + W <= *t.state.mem_area; o += W)
      if (r.at(ctx + o) == dict_type) dicts.push_back(o);
    // `dicts` is in increasing order: a binary search per word keeps this linear in the scan.
    for (std::uint64_t o = 0; o + W <= *t.state.mem_area; o += W) {
      auto v = r.at(ctx + o);
      if (!v || *v < ctx || !std::binary_search(dicts.begin(), dicts.end(), *v - ctx)) continue;
      std::uint64_t d = *v - ctx;
      t.state.vm_dict_main = d;
      dict_pointer_at = ctx + o;
      f.evidence.push_back(fmt::format(
          "vm.dict_main at mp_state_ctx+{}: the dict that mp_state_ctx+{} (thread.dict_globals) "
          "points at",
          d, o));
      for (std::uint64_t other : dicts)
        if (other != d) {
          t.state.vm_mp_loaded_modules_dict = other;
          f.evidence.push_back(fmt::format(
              "vm.mp_loaded_modules_dict at mp_state_ctx+{}: the other dict in it", other));
          break;
        }
      if (t.state.vm_dict_main) break;
    }
  }

  // thread.stack_top: where mp_state_thread_t's order for this build puts it (thread_layout.h);
  // the order shows in where the dict pointers lie. Any non-zero aligned value can be a stack
  // top here: the symbol fixes mp_state_ctx's address.
  std::optional<std::uint64_t> top_offset;
  if (dict_pointer_at) {
    if (auto start = find_thread_start(r, *dict_pointer_at, ctx, std::nullopt, {0, ~0ULL})) {
      top_offset = start->stack_top_offset;
      if (start->pystack_offset) {
        t.state.thread_pystack_start = *start->pystack_offset;
        t.state.thread_pystack_cur = *start->pystack_offset + 2 * W;
      }
      f.evidence.push_back(start->evidence);
    }
  } else if (auto v = r.at(ctx); v && *v != 0 && *v % W == 0) {
    top_offset = 0;  // no dict to tell the order by: the order of every version since 1.10
  }
  if (top_offset) {
    t.state.thread_stack_top = *top_offset;
    f.evidence.push_back(fmt::format("thread.stack_top at mp_state_ctx+{} = 0x{:x}", *top_offset,
                                     r.at(ctx + *top_offset).value_or(0)));
  }

  // The qstr pool layout, from the last pool when it is in RAM.
  if (f.last_pool && ram.covers(*f.last_pool, 6 * W)) {
    QstrPoolLayout& q = t.qstr_pool;
    std::uint64_t p = *f.last_pool;
    auto alloc = r.at(p + 2 * W), len = r.at(p + 3 * W), w4 = r.at(p + 4 * W), w5 = r.at(p + 5 * W);
    q.prev = 0;
    q.total_prev_len = W;
    q.alloc = 2 * W;
    q.len = 3 * W;
    if (alloc && len && w4 && w5 && ram.covers(*w4, 1) && ram.covers(*w5, 1) && *w5 > *w4 &&
        (*w5 - *w4) >= *alloc && (*w5 - *w4) % *alloc == 0 && (*w5 - *w4) / *alloc <= 4) {
      q.hashes = 4 * W;
      q.lengths = 5 * W;
      q.qstrs = 6 * W;
      q.size = 6 * W;
      q.hash_bytes = static_cast<std::uint32_t>((*w5 - *w4) / *alloc);
      q.len_bytes = 1;
      f.evidence.push_back(
          fmt::format("qstr pools have hashes and lengths arrays ({}-byte hashes): "
                      "read from the pool at 0x{:x}",
                      q.hash_bytes, p));
    } else {
      q.hashes.reset();
      q.lengths.reset();
      q.qstrs = 4 * W;
      q.size = 4 * W;
      f.evidence.push_back(
          fmt::format("qstr pools store hash and length bytes before each string "
                      "(no arrays): read from the pool at 0x{:x}",
                      p));
    }
  }
  t.provenance.layout = "heuristic (RAM dump)";
  f.areas = read_heap_areas(t, ram, f.load_bias);
  return f;
}

std::vector<HeapAreaBounds> read_heap_areas(const Target& t, const io::MemoryImage& ram,
                                            std::uint64_t load_bias) {
  std::vector<HeapAreaBounds> out;
  if (!t.mp_state_ctx || !t.state.mem_area) return out;
  io::WordReader r{ram, t.word_size, t.little_endian};
  const AreaLayout& a = t.state.area;
  std::uint64_t record = *t.mp_state_ctx + load_bias + *t.state.mem_area;
  for (int i = 0; i < 64 && record != 0; ++i) {
    auto field = [&](const Offset& o) -> std::optional<std::uint64_t> {
      return o ? r.at(record + *o) : std::nullopt;
    };
    HeapAreaBounds h;
    h.record = record;
    auto atb = field(a.gc_alloc_table_start), len = field(a.gc_alloc_table_byte_len);
    auto ps = field(a.gc_pool_start), pe = field(a.gc_pool_end);
    if (!atb || !len || !ps || !pe) break;
    h.alloc_table = *atb;
    h.alloc_table_bytes = *len;
    h.pool_start = *ps;
    h.pool_end = *pe;
    h.finaliser_table = field(a.gc_finaliser_table_start);
    h.weakref_table = field(a.gc_weakref_table_start);
    h.collect_table = field(a.gc_collect_table_start);
    auto next = field(a.next);
    h.next = next.value_or(0);
    out.push_back(h);
    if (!next || std::any_of(out.begin(), out.end(),
                             [&](const HeapAreaBounds& x) { return x.record == *next; }))
      break;
    record = *next;
  }
  return out;
}

}  // namespace mpheap::target

namespace mpheap::target {

std::string settle_value_encoding(Target& t, const io::MemoryImage& ram, std::uint64_t load_bias) {
  if (t.values_known) return "";
  if (!t.symbols.empty()) t.values.immediate_objs = t.find_symbol("mp_const_none_obj") == nullptr;
  if (!t.mp_state_ctx || !t.state.vm_dict_main) return "";
  const ObjectLayout& L = t.objects;
  std::uint64_t map = *t.mp_state_ctx + load_bias + *t.state.vm_dict_main + L.dict_map;
  auto alloc = ram.read(map + (L.map_alloc - L.map_used_word), t.word_size, t.little_endian);
  auto table = ram.read(map + (L.map_table - L.map_used_word), t.word_size, t.little_endian);
  if (!alloc || !table) return "";
  std::uint64_t keys = 0;
  auto repr = infer_repr_from_map(ram, *table, *alloc, t.word_size, t.little_endian,
                                  t.values.immediate_objs, t.rom_qstrs.size() + 65536, &keys);
  if (!repr) return "";
  t.values.repr = *repr;
  t.values_known = true;
  return fmt::format("{}: all {} keys of vm.dict_main are qstrs in that encoding{}",
                     describe(t.values), keys,
                     t.symbols.empty()         ? ""
                     : t.values.immediate_objs ? " (no mp_const_none_obj symbol)"
                                               : " (mp_const_none_obj is a symbol)");
}

}  // namespace mpheap::target
