// Reachability, dominators (Cooper-Harvey-Kennedy), retained sizes and retainer paths.
#include "mpheap/heap/dominators.h"

#include <fmt/format.h>

#include <algorithm>

namespace mpheap::heap {
namespace {

std::uint64_t own_bytes(const Snapshot& s, const ObjectGraph& g, std::uint32_t o) {
  return s.objects[o].blocks * g.block_size;
}

}  // namespace

Reachability reachability(const Snapshot& s, const ObjectGraph& g) {
  const auto n = static_cast<std::uint32_t>(g.object_count());
  Reachability r;
  r.reachable.assign(n, 0);
  r.parent.assign(n, kNoObject);
  std::vector<std::uint32_t> queue;
  queue.reserve(n);
  for (const RootRef& root : g.roots) {
    if (r.reachable[root.object] != 0) continue;
    r.reachable[root.object] = 1;
    queue.push_back(root.object);
  }
  for (std::size_t head = 0; head < queue.size(); ++head) {
    const std::uint32_t u = queue[head];
    for (std::uint32_t v : g.out_edges(u)) {
      if (r.reachable[v] != 0) continue;
      r.reachable[v] = 1;
      r.parent[v] = u;
      queue.push_back(v);
    }
  }
  for (std::uint32_t o = 0; o < n; ++o) {
    const std::uint64_t bytes = own_bytes(s, g, o);
    if (r.reachable[o] != 0) {
      ++r.reachable_objects;
      r.reachable_bytes += bytes;
    } else {
      ++r.garbage_objects;
      r.garbage_bytes += bytes;
    }
  }
  return r;
}

DominatorTree dominators(const Snapshot& s, const ObjectGraph& g) {
  // Node 0 is the virtual root; object o is node o + 1.
  const auto n = static_cast<std::uint32_t>(g.object_count());
  const std::uint32_t nodes = n + 1;
  std::vector<std::uint32_t> root_children;
  {
    std::vector<std::uint8_t> rooted(n, 0);
    for (const RootRef& root : g.roots) {
      if (rooted[root.object] != 0) continue;
      rooted[root.object] = 1;
      root_children.push_back(root.object + 1);
    }
  }
  auto successors = [&](std::uint32_t node) -> std::span<const std::uint32_t> {
    if (node == 0) return root_children;
    return g.out_edges(node - 1);
  };
  auto succ_node = [](std::uint32_t node, std::uint32_t v) { return node == 0 ? v : v + 1; };

  // Iterative depth-first search: postorder numbers and the reverse postorder.
  constexpr std::uint32_t kUnvisited = 0xffffffffu;
  std::vector<std::uint32_t> po(nodes, kUnvisited), order;  // order: postorder of nodes
  order.reserve(nodes);
  {
    std::vector<std::uint8_t> visited(nodes, 0);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> stack;  // node, next successor
    stack.emplace_back(0, 0);
    visited[0] = 1;
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      auto succ = successors(node);
      if (next < succ.size()) {
        const std::uint32_t v = succ_node(node, succ[next++]);
        if (visited[v] == 0) {
          visited[v] = 1;
          stack.emplace_back(v, 0);
        }
        continue;
      }
      po[node] = static_cast<std::uint32_t>(order.size());
      order.push_back(node);
      stack.pop_back();
    }
  }

  // From here on nodes are numbered in postorder (the virtual root is the last, `top`), so the
  // postorder numbers need no table of their own once the predecessors are translated.
  const auto reached = static_cast<std::uint32_t>(order.size());
  const std::uint32_t top = reached - 1;

  // Predecessors (CSR, postorder numbers). Filled through pred_begin itself: each row's start
  // advances to the next row's, then the rows are shifted back (no second table).
  std::vector<std::uint32_t> pred_begin(reached + 1, 0), preds;
  for (std::uint32_t u : order)
    for (std::uint32_t v : successors(u)) ++pred_begin[po[succ_node(u, v)] + 1];
  for (std::uint32_t i = 0; i < reached; ++i) pred_begin[i + 1] += pred_begin[i];
  preds.resize(pred_begin[reached]);
  for (std::uint32_t p = 0; p < reached; ++p)
    for (std::uint32_t v : successors(order[p]))
      preds[pred_begin[po[succ_node(order[p], v)]]++] = p;
  for (std::uint32_t i = reached; i > 0; --i) pred_begin[i] = pred_begin[i - 1];
  pred_begin[0] = 0;
  std::vector<std::uint32_t>().swap(po);

  std::vector<std::uint32_t> idom(reached, kUnvisited);  // postorder numbers
  idom[top] = top;
  auto intersect = [&](std::uint32_t a, std::uint32_t b) {
    while (a != b) {
      while (a < b) a = idom[a];
      while (b < a) b = idom[b];
    }
    return a;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (std::uint32_t node = top; node-- > 0;) {  // reverse postorder, the root left out
      std::uint32_t best = kUnvisited;
      for (std::uint32_t k = pred_begin[node]; k < pred_begin[node + 1]; ++k) {
        const std::uint32_t p = preds[k];
        if (idom[p] == kUnvisited) continue;
        best = best == kUnvisited ? p : intersect(p, best);
      }
      if (best != kUnvisited && idom[node] != best) {
        idom[node] = best;
        changed = true;
      }
    }
  }
  // The search's tables are done with: freed before the result is built (this is the peak of
  // a whole `mpheap heap` run, with the dump, the objects and the graph alive).
  std::vector<std::uint32_t>().swap(pred_begin);
  std::vector<std::uint32_t>().swap(preds);

  DominatorTree d;
  d.block_size = g.block_size;
  d.idom.assign(n, kNoObject);
  for (std::uint32_t p = 0; p < top; ++p)
    d.idom[order[p] - 1] = idom[p] == top ? kNoObject : order[idom[p]] - 1;
  std::vector<std::uint32_t>().swap(idom);
  d.retained_bytes.assign(n, 0);
  d.reachable.assign(n, 0);
  for (std::uint32_t p = 0; p < top; ++p) {  // postorder: every subtree before its dominator
    const std::uint32_t o = order[p] - 1;
    d.reachable[o] = 1;
    d.retained_bytes[o] += own_bytes(s, g, o);
    if (d.idom[o] == kNoObject)
      d.total_reachable_bytes += d.retained_bytes[o];
    else
      d.retained_bytes[d.idom[o]] += d.retained_bytes[o];
  }
  return d;
}

std::vector<Retainer> top_retainers(const Snapshot& s, const DominatorTree& d, std::size_t limit) {
  // Larger retained size first, then lower address: a strict total order, so keeping the best
  // `limit` in a heap gives what sorting them all would, in O(limit) memory.
  auto better = [&](const Retainer& a, const Retainer& b) {
    if (a.retained_bytes != b.retained_bytes) return a.retained_bytes > b.retained_bytes;
    return s.objects[a.object].address < s.objects[b.object].address;
  };
  std::vector<Retainer> best;  // a heap whose front is the worst of those kept
  if (limit == 0) return best;
  for (std::uint32_t o = 0; o < d.retained_bytes.size(); ++o) {
    if (d.reachable[o] == 0) continue;
    const Retainer r{o, s.objects[o].blocks * d.block_size, d.retained_bytes[o]};
    if (best.size() < limit) {
      best.push_back(r);
      std::push_heap(best.begin(), best.end(), better);
    } else if (better(r, best.front())) {
      std::pop_heap(best.begin(), best.end(), better);
      best.back() = r;
      std::push_heap(best.begin(), best.end(), better);
    }
  }
  std::sort_heap(best.begin(), best.end(), better);
  return best;
}

std::vector<std::uint32_t> retainer_chain(const Reachability& r, std::uint32_t object) {
  std::vector<std::uint32_t> chain;
  if (object >= r.reachable.size() || r.reachable[object] == 0) return chain;
  for (std::uint32_t o = object; o != kNoObject; o = r.parent[o]) chain.push_back(o);
  std::reverse(chain.begin(), chain.end());
  return chain;
}

std::optional<std::string> retainer_path(const Snapshot& s, const ObjectGraph& g,
                                         const Reachability& r, std::uint64_t address) {
  auto object = object_containing(s, address, g.block_size);
  if (!object) return std::nullopt;
  std::vector<std::uint32_t> chain = retainer_chain(r, *object);
  if (chain.empty()) return std::nullopt;
  // Name the root after a static slot when there is one: it says more than a stack offset or
  // a register.
  auto refs = g.roots_of(chain.front());
  std::string out = refs.empty() ? "?" : g.roots[preferred_root(g, refs)].name;
  for (std::uint32_t o : chain) {
    const HeapObject& h = s.objects[o];
    out += fmt::format(" -> 0x{:x} ({})", h.address, object_type_label(s, h));
  }
  return out;
}

const RootRef* path_root(const ObjectGraph& g, const Reachability& r, std::uint32_t object) {
  std::vector<std::uint32_t> chain = retainer_chain(r, object);
  if (chain.empty()) return nullptr;
  auto refs = g.roots_of(chain.front());
  return refs.empty() ? nullptr : &g.roots[preferred_root(g, refs)];
}

std::vector<std::uint32_t> dominated_by(const Snapshot& s, const DominatorTree& d,
                                        const std::vector<std::uint64_t>& addresses) {
  const std::size_t n = s.objects.size();
  // 0 unknown, 1 not held, 2 held.
  std::vector<std::uint8_t> state(n, 0);
  for (std::uint64_t a : addresses)
    if (auto o = object_containing(s, a)) state[*o] = 2;
  std::vector<std::uint32_t> chain;
  for (std::uint32_t o = 0; o < n; ++o) {
    std::uint32_t v = o;
    while (state[v] == 0 && d.reachable[v] != 0 && d.idom[v] != kNoObject) {
      chain.push_back(v);
      v = d.idom[v];
    }
    const std::uint8_t verdict = state[v] == 2 ? 2 : 1;
    if (state[v] == 0) state[v] = verdict;
    for (std::uint32_t c : chain) state[c] = verdict;
    chain.clear();
  }
  std::vector<std::uint32_t> out;
  for (std::uint32_t o = 0; o < n; ++o)
    if (state[o] == 2) out.push_back(o);
  return out;
}

}  // namespace mpheap::heap
