// Analyses over the ownership graph: reachability from the roots (what the next collection
// would free), the dominator tree with retained sizes, top retainers and retainer paths.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mpheap/heap/graph.h"
#include "mpheap/heap/snapshot.h"

namespace mpheap::heap {

constexpr std::uint32_t kNoObject = 0xffffffffu;

// Breadth-first search from all roots at once: shortest retainer paths and reachability.
struct Reachability {
  std::vector<std::uint8_t> reachable;  // per object
  // The object it was first reached from (kNoObject for rooted objects and garbage).
  std::vector<std::uint32_t> parent;
  std::uint64_t reachable_objects = 0, reachable_bytes = 0;
  std::uint64_t garbage_objects = 0, garbage_bytes = 0;
};
Reachability reachability(const Snapshot& s, const ObjectGraph& g);

// Dominator tree over reachable objects with a virtual root connected to every rooted object.
struct DominatorTree {
  // Immediate dominator of each object: an object index, or kNoObject when it is the virtual
  // root (a child of the roots) or the object is garbage.
  std::vector<std::uint32_t> idom;
  std::vector<std::uint64_t> retained_bytes;  // own bytes + those of its dominator subtree
  std::vector<std::uint8_t> reachable;
  std::uint64_t total_reachable_bytes = 0;
  std::uint32_t block_size = 16;
  [[nodiscard]] bool is_root_child(std::uint32_t o) const {
    return reachable[o] != 0 && idom[o] == kNoObject;
  }
};
// Cooper, Harvey and Kennedy's iterative algorithm ("A Simple, Fast Dominance Algorithm").
DominatorTree dominators(const Snapshot& s, const ObjectGraph& g);

// The objects that contain one of `addresses`, and every object they dominate (what exists
// only because of them), in index order.
std::vector<std::uint32_t> dominated_by(const Snapshot& s, const DominatorTree& d,
                                        const std::vector<std::uint64_t>& addresses);

struct Retainer {
  std::uint32_t object = 0;
  std::uint64_t own_bytes = 0, retained_bytes = 0;
};
// Objects by retained size, largest first (ties by address); at most `limit`.
std::vector<Retainer> top_retainers(const Snapshot& s, const DominatorTree& d, std::size_t limit);

// "mp_state_ctx.vm.dict_main.map.table -> 0x20000a30 (unknown) -> 0x20000490 (dict)", the
// shortest path from a root; nullopt when `address` is in no allocation or is garbage.
std::optional<std::string> retainer_path(const Snapshot& s, const ObjectGraph& g,
                                         const Reachability& r, std::uint64_t address);
// The same path as object indices, root-side first.
std::vector<std::uint32_t> retainer_chain(const Reachability& r, std::uint32_t object);
// The root that retainer_path names for `object` (nullptr for garbage).
const RootRef* path_root(const ObjectGraph& g, const Reachability& r, std::uint32_t object);

}  // namespace mpheap::heap
