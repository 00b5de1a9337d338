// The conservative pointer scan over one snapshot: heap words and root words to object edges.
#include "mpheap/heap/graph.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <numeric>

#include "mpheap/io/load_word.h"

namespace mpheap::heap {
namespace {

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

// Maps a run-time address to the allocation containing it, area by area, through a table of
// one object index per block (kNone for free blocks).
class PointerResolver {
 public:
  PointerResolver(const Snapshot& s, std::uint32_t block_size, bool interior)
      : block_size_(block_size), interior_(interior) {
    for (const AreaSnapshot& a : s.areas) {
      Area area;
      area.pool_start = a.bounds.pool_start;
      area.pool_end = a.bounds.pool_start + a.kinds.size() * block_size;
      area.owner.assign(a.kinds.size(), kNone);
      for (std::uint64_t i = 0; i < a.object_count; ++i) {
        const HeapObject& o = s.objects[a.first_object + i];
        const auto index = static_cast<std::uint32_t>(a.first_object + i);
        for (std::uint64_t b = o.block; b < o.block + o.blocks && b < area.owner.size(); ++b)
          area.owner[b] = index;
      }
      lo_ = std::min(lo_, area.pool_start);
      hi_ = std::max(hi_, area.pool_end);
      areas_.push_back(std::move(area));
    }
  }

  [[nodiscard]] std::uint32_t find(std::uint64_t address) const {
    if (address < lo_ || address >= hi_) return kNone;
    for (const Area& a : areas_) {
      if (address < a.pool_start || address >= a.pool_end) continue;
      const std::uint64_t offset = address - a.pool_start;
      const std::uint64_t block = offset / block_size_;
      const std::uint32_t o = a.owner[block];
      if (o == kNone) return kNone;
      if (!interior_ && (offset % block_size_ != 0 || (block > 0 && a.owner[block - 1] == o)))
        return kNone;
      return o;
    }
    return kNone;
  }

 private:
  struct Area {
    std::uint64_t pool_start = 0, pool_end = 0;
    std::vector<std::uint32_t> owner;
  };
  std::vector<Area> areas_;
  std::uint64_t lo_ = std::numeric_limits<std::uint64_t>::max(), hi_ = 0;
  std::uint32_t block_size_;
  bool interior_;
};

// Calls f(slot, value) for every captured aligned word in [start, end); counts the others.
template <typename F>
void scan_words(const io::MemoryImage& mem, std::uint64_t start, std::uint64_t end,
                std::uint32_t ws, bool le, ObjectGraph& g, F&& f) {
  if (start > std::numeric_limits<std::uint64_t>::max() - ws) return;
  start = (start + ws - 1) / ws * ws;
  if (end <= start) return;
  end = start + (end - start) / ws * ws;
  // Captured runs are read in one sweep; a gap is counted, not probed word by word (a root
  // range can span gigabytes of which a few KiB were dumped).
  for (std::uint64_t a = start; a < end;) {
    const std::string_view run = mem.captured_from(a);
    if (const std::uint64_t words = std::min<std::uint64_t>(run.size(), end - a) / ws; words > 0) {
      const char* p = run.data();
      for (std::uint64_t i = 0; i < words; ++i, a += ws, p += ws) f(a, io::load_word(p, ws, le));
      g.words_scanned += words;
    } else if (!run.empty()) {  // a word across the end of a run
      if (auto b = mem.bytes(a, ws)) {
        f(a, io::load_word(b->data(), ws, le));
        ++g.words_scanned;
      } else {
        ++g.words_not_captured;
      }
      a += ws;
    } else {
      const std::uint64_t skip = (std::min(mem.next_start_after(a), end) - a + ws - 1) / ws;
      g.words_not_captured += skip;
      a += skip * ws;
    }
  }
}

// Sorted, merged `include` minus `exclude`.
std::vector<AddressRange> subtract(std::vector<AddressRange> include,
                                   const std::vector<AddressRange>& exclude) {
  auto by_start = [](const AddressRange& a, const AddressRange& b) { return a.start < b.start; };
  std::sort(include.begin(), include.end(), by_start);
  std::vector<AddressRange> merged;
  for (const AddressRange& r : include) {
    if (r.end <= r.start) continue;
    if (!merged.empty() && r.start <= merged.back().end)
      merged.back().end = std::max(merged.back().end, r.end);
    else
      merged.push_back(r);
  }
  for (const AddressRange& x : exclude) {
    std::vector<AddressRange> next;
    for (const AddressRange& r : merged) {
      if (x.end <= r.start || x.start >= r.end) {
        next.push_back(r);
        continue;
      }
      if (r.start < x.start) next.push_back({r.start, x.start});
      if (x.end < r.end) next.push_back({x.end, r.end});
    }
    merged = std::move(next);
  }
  return merged;
}

// Names a root word after the mp_state_ctx field the target's offsets say it is in, else
// symbol+offset (symbol addresses are link-time: the load bias is subtracted).
std::string root_name(const target::Target& t, std::uint64_t bias, std::uint64_t slot,
                      const std::optional<AddressRange>& stack,
                      const std::optional<AddressRange>& pystack) {
  if (stack && slot >= stack->start && slot < stack->end)
    return fmt::format("stack+0x{:x}", slot - stack->start);
  if (pystack && slot >= pystack->start && slot < pystack->end)
    return fmt::format("pystack+0x{:x}", slot - pystack->start);
  if (t.mp_state_ctx && slot >= *t.mp_state_ctx + bias) {
    const std::uint64_t off = slot - *t.mp_state_ctx - bias;
    const std::uint64_t dict_size = t.objects.map_table + t.word_size;
    struct Field {
      const target::Offset& offset;
      const char* name;
      bool dict;
    };
    const Field fields[] = {
        {t.state.vm_dict_main, "vm.dict_main", true},
        {t.state.vm_mp_loaded_modules_dict, "vm.mp_loaded_modules_dict", true},
        {t.state.vm_last_pool, "vm.last_pool", false},
        {t.state.thread_stack_top, "thread.stack_top", false},
    };
    for (const Field& f : fields) {
      if (!f.offset || off < *f.offset) continue;
      const std::uint64_t sub = off - *f.offset;
      if (!f.dict && sub == 0) return fmt::format("mp_state_ctx.{}", f.name);
      if (f.dict && sub < dict_size) {
        if (sub == t.objects.map_table) return fmt::format("mp_state_ctx.{}.map.table", f.name);
        return fmt::format("mp_state_ctx.{}+{}", f.name, sub);
      }
    }
  }
  return t.describe(slot - bias);
}

}  // namespace

std::optional<std::uint32_t> object_containing(const Snapshot& s, std::uint64_t address,
                                               std::uint32_t block_size) {
  for (const AreaSnapshot& a : s.areas) {
    if (a.object_count == 0) continue;
    auto first = s.objects.begin() + static_cast<std::ptrdiff_t>(a.first_object);
    auto last = first + static_cast<std::ptrdiff_t>(a.object_count);
    auto it = std::upper_bound(first, last, address,
                               [](std::uint64_t x, const HeapObject& o) { return x < o.address; });
    if (it == first) continue;
    --it;
    const std::uint64_t bs =
        block_size != 0 ? block_size : (a.bounds.pool_end - a.bounds.pool_start) / a.kinds.size();
    if (address - it->address < it->blocks * bs)
      return static_cast<std::uint32_t>(it - s.objects.begin());
  }
  return std::nullopt;
}

std::string object_type_label(const Snapshot& s, const HeapObject& o) {
  if (o.type != NameIndex::none) return s.type_name(o);
  if (o.class_name() != NameIndex::none) return s.class_name(o);
  return "unknown";
}

ObjectGraph build_graph(const target::Target& t, const io::MemoryImage& memory, const Snapshot& s,
                        const GraphOptions& options) {
  ObjectGraph g;
  const std::uint32_t ws = t.word_size == 8 ? 8 : 4;
  g.word_size = ws;
  g.block_size = t.block_size == 0 ? 16 : t.block_size;
  const bool le = t.little_endian;
  const std::uint64_t bias = s.load_bias;
  const auto n = static_cast<std::uint32_t>(s.objects.size());
  const PointerResolver resolve(s, g.block_size, options.interior_pointers);

  // Heap edges, one row per object in object order.
  g.edge_begin.reserve(n + 1);
  std::vector<std::uint32_t> seen(n, kNone);  // last source that got an edge to each target
  for (std::uint32_t i = 0; i < n; ++i) {
    g.edge_begin.push_back(static_cast<std::uint32_t>(g.edges.size()));
    const HeapObject& o = s.objects[i];
    if (options.selective_collect && !scanned_by_gc(o)) {
      ++g.objects_not_scanned;
      continue;
    }
    scan_words(memory, o.address, o.address + o.blocks * g.block_size, ws, le, g,
               [&](std::uint64_t, std::uint64_t value) {
                 const std::uint32_t to = resolve.find(value);
                 if (to == kNone || to == i || seen[to] == i) return;
                 seen[to] = i;
                 g.edges.push_back(to);
               });
  }
  g.edge_begin.push_back(static_cast<std::uint32_t>(g.edges.size()));
  g.edges.shrink_to_fit();  // kept for the whole analysis: up to half of it is growth room

  // Root ranges: .data/.bss and mp_state_ctx up to its mem struct, minus the heap areas.
  std::vector<AddressRange> include, exclude;
  if (options.scan_data_bss) {
    for (const target::MemoryRegion& r : t.regions)
      if (r.kind == target::RegionKind::data || r.kind == target::RegionKind::bss)
        include.push_back({r.start + bias, r.end + bias});
  }
  if (t.mp_state_ctx) {
    const std::uint64_t ctx = *t.mp_state_ctx + bias;
    const std::uint64_t mem = t.state.mem_area.value_or(t.state.size);
    include.push_back({ctx, ctx + mem});
    if (t.state.size > mem) exclude.push_back({ctx + mem, ctx + t.state.size});
  }
  // MICROPY_ENABLE_PYSTACK: the frames of running Python code, pystack_start..pystack_cur
  // (gc_collect_start scans them as roots).
  std::optional<AddressRange> pystack;
  if (t.mp_state_ctx && t.state.thread_pystack_start && t.state.thread_pystack_cur) {
    const std::uint64_t ctx = *t.mp_state_ctx + bias;
    auto start = memory.read(ctx + *t.state.thread_pystack_start, ws, le);
    auto cur = memory.read(ctx + *t.state.thread_pystack_cur, ws, le);
    if (start && cur && *start <= *cur && *cur - *start <= (std::uint64_t{1} << 24)) {
      pystack = AddressRange{*start, *cur};
      g.pystack = pystack;
      if (*cur > *start) include.push_back(*pystack);
    }
  }
  const std::uint64_t record_size =
      t.state.area.size != 0 ? t.state.area.size : std::uint64_t{8} * ws;
  for (const AreaSnapshot& a : s.areas) {
    exclude.push_back({a.bounds.record, a.bounds.record + record_size});
    exclude.push_back({std::min(a.bounds.alloc_table, a.bounds.pool_start), a.bounds.pool_end});
  }
  if (options.stack) include.push_back(*options.stack);
  g.root_ranges = subtract(std::move(include), exclude);

  // Registers first: they have no address, and roots are kept in slot order.
  for (const io::Register& r : options.registers) {
    const std::uint32_t to = resolve.find(r.value);
    if (to != kNone) g.roots.push_back({0, r.value, to, "register " + r.name});
  }
  for (const AddressRange& r : g.root_ranges) {
    scan_words(memory, r.start, r.end, ws, le, g, [&](std::uint64_t slot, std::uint64_t value) {
      const std::uint32_t to = resolve.find(value);
      if (to == kNone) return;
      g.roots.push_back(
          {slot, value, to, root_name(t, bias, slot, options.stack, pystack),
           options.stack && slot >= options.stack->start && slot < options.stack->end});
    });
  }
  g.root_index.resize(g.roots.size());
  std::iota(g.root_index.begin(), g.root_index.end(), 0u);
  std::stable_sort(g.root_index.begin(), g.root_index.end(), [&](std::uint32_t x, std::uint32_t y) {
    return g.roots[x].object < g.roots[y].object;
  });
  return g;
}

std::uint32_t preferred_root(const ObjectGraph& g, std::span<const std::uint32_t> refs) {
  auto rank = [&](std::uint32_t k) {
    const RootRef& r = g.roots[k];
    if (r.python_frame) return 1;
    if (r.stack) return 3;
    return r.slot == 0 ? 2 : 0;  // a register, else a static slot
  };
  std::uint32_t pick = refs.front();
  for (std::uint32_t k : refs)
    if (rank(k) < rank(pick)) pick = k;
  return pick;
}

}  // namespace mpheap::heap
