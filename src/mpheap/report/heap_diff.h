// Presenter for a snapshot difference: totals, changes by type, the largest new objects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "mpheap/heap/diff.h"

namespace mpheap::report {

// "used: A -> B bytes (+D)", a table of new / freed / grown / shrunk counts and bytes per type,
// then up to `largest` new objects by size. Bytes of objects come from their block count.
std::string diff_text(const heap::SnapshotDiff& d, std::uint32_t block_size,
                      std::size_t largest = 10);

}  // namespace mpheap::report
