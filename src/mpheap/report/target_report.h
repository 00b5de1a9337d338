// The readable summary `mpheap target` prints.
#pragma once

#include <string>

#include "mpheap/target/layout_heuristics.h"
#include "mpheap/target/ram_heap_search.h"
#include "mpheap/target/target.h"

namespace mpheap::report {

// `findings` may be null (no RAM dump given).
std::string target_summary(const target::Target& t, const target::LayoutFindings* findings);

// What `mpheap target --ram` found in RAM dumps alone: the heap's areas and tables, with the
// evidence.
std::string ram_heap_summary(const target::RamHeapFindings& f);

}  // namespace mpheap::report
