// Fragmentation of one snapshot: free runs per area, their histogram, and the MemoryError
// explainer: would an allocation of N bytes succeed now, after a collection, and if not, which
// live objects pin the free space.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "mpheap/heap/dominators.h"
#include "mpheap/heap/graph.h"
#include "mpheap/heap/snapshot.h"
#include "mpheap/target/heap_growth.h"

namespace mpheap::heap {

// Runs of free blocks; lengths in blocks. A run never crosses an area boundary (gc_alloc looks
// for n free blocks inside one area).
struct FreeRuns {
  std::vector<std::uint64_t> largest_per_area;  // per Snapshot::areas entry
  std::uint64_t largest = 0;
  std::uint32_t largest_area = 0;  // the first area holding a run of length `largest`
  std::uint64_t free_blocks = 0, runs = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> histogram;  // (run length, count), ascending
};

// Free runs as the allocation tables say; `freed` (one flag per object, may be empty) treats
// the blocks of the flagged objects as free too.
FreeRuns free_runs(const Snapshot& s, std::span<const std::uint8_t> freed = {});

// A live object that keeps free space apart: freeing it alone would leave a free run of
// `run_if_freed` blocks.
struct PinningObject {
  std::uint32_t object = 0;
  std::uint64_t address = 0, blocks = 0;
  std::string type;
  std::uint64_t run_if_freed = 0;
  bool allows_alloc = false;  // that run would hold the allocation
  std::string retainer_path;  // as retainer_path() writes it
};

struct CanAllocResult {
  std::uint64_t bytes = 0, blocks = 0;  // requested; blocks = ceil(bytes / block size)
  std::uint64_t largest_free_now = 0, largest_free_after_collect = 0;  // blocks
  bool fits_now = false, fits_after_collect = false;
  std::uint64_t garbage_objects = 0, garbage_bytes = 0;  // what the collection would free
  std::vector<PinningObject> pinning;                    // when it does not fit: best first
  // The largest area in blocks: an allocation never spans areas, so a request larger than
  // this fails however the heap is arranged (no pinning objects are listed then).
  std::uint64_t largest_area_blocks = 0;
  [[nodiscard]] bool larger_than_any_area() const { return blocks > largest_area_blocks; }
  // A heap that grows (MICROPY_GC_SPLIT_HEAP_AUTO), when the allocation does not fit after the
  // collection: the area the collector then adds, and whether the allocation fits in it for
  // every address the system may return (`grows_fits`), for none, or only for some.
  std::optional<target::HeapGrowth> growth;
  bool grows_fits = false, grows_may_fit = false;
  std::uint64_t blocks_now = 0;  // blocks of all areas now
  [[nodiscard]] bool fits() const { return fits_after_collect || grows_fits; }
};

struct CanAllocOptions {
  std::size_t max_pinning = 10;
  // Set for a build whose heap grows (target::Target::gc_split_heap_auto): the shape of the
  // area records and tables (block size from the graph, total blocks from the snapshot).
  bool heap_grows = false;
  std::uint64_t area_record_size = 0;
  bool finaliser = false;
  std::optional<std::uint64_t> max_new_split;
  // The port's gc_collect() frees nothing there and then (target::Target::gc_collect_deferred):
  // garbage does not make room, the heap grows first.
  bool collect_deferred = false;
};

CanAllocResult can_alloc(const Snapshot& s, const ObjectGraph& g, std::uint64_t n_bytes,
                         const CanAllocOptions& options = {});
// The same with the graph's reachability already computed (SnapshotAnalysis::reach): no second
// traversal of the graph.
CanAllocResult can_alloc(const Snapshot& s, const ObjectGraph& g, const Reachability& reach,
                         std::uint64_t n_bytes, const CanAllocOptions& options = {});

}  // namespace mpheap::heap
