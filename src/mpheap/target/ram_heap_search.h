// The GC heap found in RAM dumps alone, with no firmware image and no symbols: every word is
// tried as the start of a heap area record {allocation table, its length, [0-3 more tables,]
// pool start, pool end} (heap_area_shape), and a record counts only when its tables and pool
// are laid out as gc_init/gc_add lay them out (tables one after the other, the pool right after
// them). Records chained by the word in front of each (`next`, MICROPY_GC_SPLIT_HEAP) are the
// areas of one split heap. Several unrelated records are reported as ambiguous, never picked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mpheap/io/memory_image.h"
#include "mpheap/target/layout_heuristics.h"
#include "mpheap/util/error.h"

namespace mpheap::target {

struct RamHeapFindings {
  std::uint32_t word_size = 4;
  bool little_endian = true;
  std::uint32_t block_size = 0;
  // In chain order. `record` is the address of the mp_state_mem_area_t: its `next` field when
  // `split`, else its allocation-table pointer.
  std::vector<HeapAreaBounds> areas;
  bool split = false;  // the records start with `next` (seen as a chain of two or more)
  // The extra table pointers between the allocation-table length and the pool, in order:
  // "finaliser", "weakref" or "selective-collect" (CircuitPython), told by which blocks have
  // their bit set.
  std::vector<std::string> tables;
  std::vector<std::string> evidence;  // one line per fact, with what proves it
};

// The heap in `ram` read as words of `word_size` bytes (4 or 8). The error says what was
// scanned, how many words looked like a record and why each kind was rejected, or lists the
// records when several different ones fit.
Expected<RamHeapFindings> find_heap_areas_in_ram(const io::MemoryImage& ram,
                                                 std::uint32_t word_size, bool little_endian);

}  // namespace mpheap::target
