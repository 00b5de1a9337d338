// Retainer paths written in Python terms where the objects allow it:
// `mp_state_ctx.vm.dict_main['CONFIG']['beta'][1]`, `sys.modules['app'].display.items[3]`;
// hops the decoder cannot name in Python stay as `-> 0xADDR (type)`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mpheap/heap/dominators.h"
#include "mpheap/heap/graph.h"
#include "mpheap/heap/objects.h"

namespace mpheap::heap {

// The shortest path from a root to `object` (nullopt for garbage).
std::optional<std::string> python_path(const Snapshot& s, const ObjectGraph& g,
                                       const Reachability& r, const ObjectReader& reader,
                                       const target::Target& t, std::uint32_t object);

// Every object's path at once, as the last hop of each: an object's path is its parent's path
// followed by its own `hop`. Linear in objects and edges, where writing every path out whole
// is quadratic in the length of a chain (a linked list of 10,000 nodes).
struct PythonHops {
  // Per object: Reachability::parent (kNoObject for an object a root holds, and for garbage).
  std::vector<std::uint32_t> parent;
  // Per object: how the parent holds it (`['key']`, `[3]`, `.name`, `` for a container's own
  // table or items, ` -> 0xADDR (type)`); for an object a root holds, the root's expression
  // with the first hop (`mp_state_ctx.vm.dict_main`); "" for garbage.
  std::vector<std::string> hop;
  // Per object: hops from the root (1 for an object a root holds), 0 for garbage.
  std::vector<std::uint32_t> depth;
};
PythonHops python_hops(const Snapshot& s, const ObjectGraph& g, const Reachability& r,
                       const ObjectReader& reader, const target::Target& t);

}  // namespace mpheap::heap
