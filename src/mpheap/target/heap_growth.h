// Heaps that grow (MICROPY_GC_SPLIT_HEAP_AUTO): how a build is known to have it from its image,
// what that says about the area record found in a dump with one area, and how big an area the
// collector adds when an allocation fails (py/gc.c, gc_try_add_heap, MicroPython 1.21+).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mpheap/io/memory_image.h"
#include "mpheap/target/ram_heap_search.h"

namespace mpheap::target {

// The evidence line when the image holds the format string py/gc.c's gc_dump_info prints only
// with MICROPY_GC_SPLIT_HEAP_AUTO (", max new split: %u"); nullopt when it does not.
std::optional<std::string> split_heap_auto_evidence(const io::MemoryImage& flash);

// A dump of a heap that can grow, with only one area so far: the search could not see the
// chain, so it took the record to start at the allocation-table pointer. With the build known
// to have split heaps, the word in front is `next`, which must be NULL; then the findings are
// changed to the split layout and the evidence line is returned (nullopt when nothing changed).
std::optional<std::string> adopt_next_field(RamHeapFindings& heap, const io::WordReader& r,
                                            bool split_heap_auto);

// The area gc_try_add_heap asks the system for when an allocation of `bytes` fails after a
// collection, given the blocks the heap has now (all areas).
struct HeapGrowth {
  std::uint64_t needed = 0;     // bytes the new area must be able to give: bytes + overhead
  std::uint64_t requested = 0;  // bytes asked of the system (MP_PLAT_ALLOC_HEAP)
  // The blocks of the new area: its record and tables come out of `requested`, and its end is
  // rounded down to a block; the address the system returns decides by how much.
  std::uint64_t min_blocks = 0, max_blocks = 0;
  // The port's limit (gc_get_max_new_split) is below `needed`: no area is added.
  bool over_limit = false;
};
struct HeapShape {
  std::uint32_t block_size = 16;
  std::uint32_t word_size = 4;
  std::uint64_t total_blocks = 0;  // over all areas now
  std::uint64_t area_record_size = 0;
  bool finaliser = false;
  std::optional<std::uint64_t> max_new_split;  // the port's limit, when known
};
HeapGrowth heap_growth(const HeapShape& heap, std::uint64_t bytes);

// What a port does about heap growth, for the ports known here (the WebAssembly port,
// ports/webassembly/main.c 1.21..1.27: gc_get_max_new_split() returns 128 MiB, and gc_collect()
// only sets gc_collect_pending, collecting when control returns to JS); nullptr for others.
struct PortHeapFacts {
  std::string_view port;
  std::uint64_t max_new_split = 0;
  bool collect_deferred = false;
};
const PortHeapFacts* port_heap_facts(std::string_view port);

}  // namespace mpheap::target
