// Free runs, their histogram and the can-alloc explainer.
#include "mpheap/heap/fragmentation.h"

#include <algorithm>
#include <map>

#include "mpheap/heap/dominators.h"

namespace mpheap::heap {
namespace {

// One flag per block of each area: free (1) or not, with the `freed` objects' blocks free.
std::vector<std::vector<std::uint8_t>> free_maps(const Snapshot& s,
                                                 std::span<const std::uint8_t> freed) {
  std::vector<std::vector<std::uint8_t>> maps;
  maps.reserve(s.areas.size());
  for (const AreaSnapshot& a : s.areas) {
    std::vector<std::uint8_t> m(a.kinds.size());
    for (std::size_t b = 0; b < m.size(); ++b) m[b] = a.kinds[b] == BlockKind::free ? 1 : 0;
    for (std::uint64_t i = 0; i < a.object_count && !freed.empty(); ++i) {
      const std::uint64_t o = a.first_object + i;
      if (o >= freed.size() || freed[o] == 0) continue;
      const HeapObject& h = s.objects[o];
      for (std::uint64_t b = h.block; b < h.block + h.blocks && b < m.size(); ++b) m[b] = 1;
    }
    maps.push_back(std::move(m));
  }
  return maps;
}

FreeRuns runs_of(const std::vector<std::vector<std::uint8_t>>& maps) {
  FreeRuns r;
  std::map<std::uint64_t, std::uint64_t> histogram;
  for (std::size_t ai = 0; ai < maps.size(); ++ai) {
    const std::vector<std::uint8_t>& m = maps[ai];
    std::uint64_t largest = 0, len = 0;
    for (std::size_t b = 0; b <= m.size(); ++b) {
      if (b < m.size() && m[b] != 0) {
        ++len;
        continue;
      }
      if (len > 0) {
        ++histogram[len];
        ++r.runs;
        r.free_blocks += len;
        largest = std::max(largest, len);
      }
      len = 0;
    }
    r.largest_per_area.push_back(largest);
    if (largest > r.largest) {
      r.largest = largest;
      r.largest_area = static_cast<std::uint32_t>(ai);
    }
  }
  r.histogram.assign(histogram.begin(), histogram.end());
  return r;
}

}  // namespace

FreeRuns free_runs(const Snapshot& s, std::span<const std::uint8_t> freed) {
  return runs_of(free_maps(s, freed));
}

CanAllocResult can_alloc(const Snapshot& s, const ObjectGraph& g, std::uint64_t n_bytes,
                         const CanAllocOptions& options) {
  return can_alloc(s, g, reachability(s, g), n_bytes, options);
}

CanAllocResult can_alloc(const Snapshot& s, const ObjectGraph& g, const Reachability& reach,
                         std::uint64_t n_bytes, const CanAllocOptions& options) {
  CanAllocResult res;
  const std::uint64_t bs = g.block_size == 0 ? 16 : g.block_size;
  res.bytes = n_bytes;
  res.blocks = n_bytes / bs + (n_bytes % bs != 0 ? 1 : 0);
  res.largest_free_now = free_runs(s).largest;
  res.fits_now = res.blocks <= res.largest_free_now;

  // The collection gc_alloc runs before giving up frees every unreachable allocation.
  res.garbage_objects = reach.garbage_objects;
  res.garbage_bytes = reach.garbage_bytes;
  std::vector<std::uint8_t> garbage(reach.reachable.size());
  if (!options.collect_deferred)
    for (std::size_t o = 0; o < garbage.size(); ++o) garbage[o] = reach.reachable[o] == 0 ? 1 : 0;
  const std::vector<std::vector<std::uint8_t>> maps = free_maps(s, garbage);
  res.largest_free_after_collect = runs_of(maps).largest;
  res.fits_after_collect = res.blocks <= res.largest_free_after_collect;
  for (const AreaSnapshot& a : s.areas) {
    res.largest_area_blocks = std::max<std::uint64_t>(res.largest_area_blocks, a.kinds.size());
    res.blocks_now += a.kinds.size();
  }
  if (!res.fits_after_collect && options.heap_grows) {
    target::HeapShape shape;
    shape.block_size = static_cast<std::uint32_t>(bs);
    shape.word_size = g.word_size;
    shape.total_blocks = res.blocks_now;
    shape.area_record_size = options.area_record_size;
    shape.finaliser = options.finaliser;
    shape.max_new_split = options.max_new_split;
    res.growth = target::heap_growth(shape, n_bytes);
    res.grows_fits = !res.growth->over_limit && res.blocks <= res.growth->min_blocks;
    res.grows_may_fit = !res.growth->over_limit && res.blocks <= res.growth->max_blocks;
    if (res.grows_fits) return res;
  }
  if (res.fits_after_collect || res.larger_than_any_area()) return res;

  // Freeing one live object joins it with the free runs on both sides.
  std::vector<PinningObject> candidates;
  for (std::size_t ai = 0; ai < s.areas.size(); ++ai) {
    const AreaSnapshot& a = s.areas[ai];
    const std::vector<std::uint8_t>& m = maps[ai];
    const std::size_t n = m.size();
    // The free run ending just before each live object and the one starting just after it,
    // found in one walk over the area (objects are in block order; each free run is counted
    // once from its left edge), with no per-block tables.
    std::uint64_t walked = 0;      // blocks before this are looked at
    std::uint64_t after_used = 0;  // 1 + the last block before `walked` that is not free
    for (std::uint64_t i = 0; i < a.object_count; ++i) {
      const auto o = static_cast<std::uint32_t>(a.first_object + i);
      const HeapObject& h = s.objects[o];
      if (h.block + h.blocks > n) continue;
      for (; walked < h.block; ++walked)
        if (m[walked] == 0) after_used = walked + 1;
      if (reach.reachable[o] == 0) continue;
      const std::uint64_t left = h.block - after_used;
      std::uint64_t right = 0;
      while (h.block + h.blocks + right < n && m[h.block + h.blocks + right] != 0) ++right;
      const std::uint64_t run = left + h.blocks + right;
      if (run <= res.largest_free_after_collect) continue;
      PinningObject p;
      p.object = o;
      p.address = h.address;
      p.blocks = h.blocks;
      p.type = object_type_label(s, h);
      p.run_if_freed = run;
      p.allows_alloc = run >= res.blocks;
      candidates.push_back(std::move(p));
    }
  }
  auto better = [](const PinningObject& x, const PinningObject& y) {
    if (x.run_if_freed != y.run_if_freed) return x.run_if_freed > y.run_if_freed;
    if (x.blocks != y.blocks) return x.blocks < y.blocks;  // cheaper to give up
    return x.address < y.address;
  };
  const std::size_t k = std::min(options.max_pinning, candidates.size());
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(k),
                    candidates.end(), better);
  candidates.resize(k);
  for (PinningObject& p : candidates)
    p.retainer_path = retainer_path(s, g, reach, p.address).value_or("");
  res.pinning = std::move(candidates);
  return res;
}

}  // namespace mpheap::heap
