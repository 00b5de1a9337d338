// Retainer paths written in Python terms where the objects allow it:
// `mp_state_ctx.vm.dict_main['CONFIG']['beta'][1]`, `sys.modules['app'].display.items[3]`;
// hops the decoder cannot name in Python stay as `-> 0xADDR (type)`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mpheap/heap/dominators.h"
#include "mpheap/heap/graph.h"
#include "mpheap/heap/objects.h"

namespace mpheap::heap {

// The shortest path from a root to `object` (nullopt for garbage).
std::optional<std::string> python_path(const Snapshot& s, const ObjectGraph& g,
                                       const Reachability& r, const ObjectReader& reader,
                                       const target::Target& t, std::uint32_t object);

}  // namespace mpheap::heap
