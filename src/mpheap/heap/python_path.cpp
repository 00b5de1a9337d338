// Python-terms retainer paths: each hop is named by how the parent holds the child (a dict key,
// a list or tuple index, an attribute of an instance or module), found by reading the parent.
#include "mpheap/heap/python_path.h"

#include <fmt/format.h>

namespace mpheap::heap {
namespace {

bool holds(std::uint64_t value, const HeapObject& child, std::uint64_t block_size) {
  return value >= child.address && value < child.address + child.blocks * block_size;
}

// What a hop needs to know of the path above it.
struct HopState {
  bool table = false;  // the object is a dict's table named by its root (`... .map.table`)
  bool attr = false;   // the next table's keys are attribute names (a module's globals)
};

// Names hops one at a time; a path is the root's expression and then each hop in turn.
class HopNamer {
 public:
  HopNamer(const Snapshot& s, const ObjectGraph& g, const ObjectReader& reader,
           const target::Target& t)
      : s_(s), g_(g), reader_(reader), bs_(t.block_size), w_(t.word_size), L_(t.objects) {}

  // The expression of the root that holds `first` (nullopt when no root does).
  std::optional<std::string> root(std::uint32_t first, HopState* state) const {
    auto roots = g_.roots_of(first);
    if (roots.empty()) return std::nullopt;
    // The root word holds `first`; a static slot says more than a register or a stack offset
    // (a register often holds what a global holds too), a Python frame's slot more than a
    // register. A root that is a dict's table names the dict instead.
    std::string expr = g_.roots[preferred_root(g_, roots)].name;
    *state = {};
    if (expr.ends_with(".map.table")) {
      expr.resize(expr.size() - 10);
      if (expr == "mp_state_ctx.vm.mp_loaded_modules_dict") expr = "sys.modules";
      state->table = true;
    }
    return expr;
  }

  // The hop from `parent` (reached in `state`) to `child`; `*child_state` is the state after it.
  std::string hop(std::uint32_t parent_index, std::uint32_t child_index, HopState state,
                  HopState* child_state) const {
    const HeapObject& parent = s_.objects[parent_index];
    const HeapObject& child = s_.objects[child_index];
    std::optional<std::string> hop;
    HopState next{false, state.attr};
    if (state.table || parent.kind == ObjectKind::dict_table) {
      hop = table_hop(parent, child, state.attr);
      next.attr = false;
    } else if (parent.kind == ObjectKind::instance_members) {
      hop = table_hop(parent, child, true);
    } else if (parent.kind == ObjectKind::dict || parent.kind == ObjectKind::list ||
               is_instance(parent)) {
      hop = "";  // its table, items array or member table
    } else if (parent.kind == ObjectKind::module) {
      hop = "";
      next.attr = true;  // its globals dict: keys are attribute names
    } else if (parent.kind == ObjectKind::list_items) {
      hop = index_hop(parent.address, parent.blocks * bs_ / w_, child);
    } else if (parent.kind == ObjectKind::tuple) {
      if (auto len = reader_.read_word(parent.address + L_.tuple_len))
        hop = index_hop(parent.address + L_.tuple_items, *len, child);
    }
    if (!hop) {
      hop = fmt::format(" -> {:#x} ({})", child.address, object_type_label(s_, child));
      next.attr = false;
    }
    *child_state = next;
    return std::move(*hop);
  }

 private:
  bool is_instance(const HeapObject& o) const {
    if (!o.type_pointer()) return false;
    const HeapObject* cls = reader_.object_at(*o.type_pointer());
    return o.kind == ObjectKind::instance && cls != nullptr && cls->address == *o.type_pointer();
  }
  // [key] or .name of the slot of `table` whose value points into `child`.
  std::optional<std::string> table_hop(const HeapObject& table, const HeapObject& child,
                                       bool attr) const {
    for (std::uint64_t k = 0; k < table.blocks * bs_ / (2 * w_); ++k) {
      auto key = reader_.read_word(table.address + 2 * k * w_);
      auto value = reader_.read_word(table.address + (2 * k + 1) * w_);
      if (!key || !value || *key == 0 || !holds(*value, child, bs_)) continue;
      std::string name = reader_.repr(*key);
      if (attr && name.size() >= 2 && name.front() == '\'')
        return "." + name.substr(1, name.size() - 2);
      return "[" + name + "]";
    }
    return std::nullopt;
  }
  std::optional<std::string> index_hop(std::uint64_t first, std::uint64_t count,
                                       const HeapObject& child) const {
    for (std::uint64_t k = 0; k < count && k < (1u << 16); ++k)
      if (auto v = reader_.read_word(first + k * w_); v && holds(*v, child, bs_))
        return fmt::format("[{}]", k);
    return std::nullopt;
  }

  const Snapshot& s_;
  const ObjectGraph& g_;
  const ObjectReader& reader_;
  std::uint64_t bs_, w_;
  const target::ObjectLayout& L_;
};

}  // namespace

std::optional<std::string> python_path(const Snapshot& s, const ObjectGraph& g,
                                       const Reachability& r, const ObjectReader& reader,
                                       const target::Target& t, std::uint32_t object) {
  if (object >= s.objects.size() || r.reachable[object] == 0) return std::nullopt;
  std::vector<std::uint32_t> chain = retainer_chain(r, object);
  if (chain.empty()) return std::nullopt;
  HopNamer namer(s, g, reader, t);
  HopState state;
  std::optional<std::string> expr = namer.root(chain.front(), &state);
  if (!expr) return std::nullopt;
  for (std::size_t i = 1; i < chain.size(); ++i)
    *expr += namer.hop(chain[i - 1], chain[i], state, &state);
  return expr;
}

PythonHops python_hops(const Snapshot& s, const ObjectGraph& g, const Reachability& r,
                       const ObjectReader& reader, const target::Target& t) {
  const std::size_t n = s.objects.size();
  PythonHops out;
  out.parent.assign(n, kNoObject);
  out.hop.resize(n);
  out.depth.assign(n, 0);
  std::vector<HopState> state(n);
  HopNamer namer(s, g, reader, t);
  // Each object is named once, after its parent: climb to the first named ancestor (or the
  // root), then name the objects on the way back down.
  std::vector<std::uint32_t> climb;
  for (std::uint32_t o = 0; o < n; ++o) {
    if (r.reachable[o] == 0 || out.depth[o] != 0) continue;
    climb.clear();
    std::uint32_t top = o;
    while (true) {
      climb.push_back(top);
      std::uint32_t p = r.parent[top];
      if (p == kNoObject || out.depth[p] != 0) break;
      top = p;
    }
    for (auto it = climb.rbegin(); it != climb.rend(); ++it) {
      std::uint32_t x = *it;
      std::uint32_t p = r.parent[x];
      out.parent[x] = p;
      if (p == kNoObject) {
        HopState st;
        auto expr = namer.root(x, &st);
        // A reachable object with no parent is held by a root; keep the depth right even if
        // the graph names none.
        out.hop[x] = expr ? std::move(*expr) : std::string();
        state[x] = st;
        out.depth[x] = 1;
      } else {
        out.hop[x] = namer.hop(p, x, state[p], &state[x]);
        out.depth[x] = out.depth[p] + 1;
      }
    }
  }
  return out;
}

}  // namespace mpheap::heap
