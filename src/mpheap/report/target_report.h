// The readable summary `mpheap target` prints.
#pragma once

#include <string>

#include "mpheap/target/layout_heuristics.h"
#include "mpheap/target/target.h"

namespace mpheap::report {

// `findings` may be null (no RAM dump given).
std::string target_summary(const target::Target& t, const target::LayoutFindings* findings);

}  // namespace mpheap::report
