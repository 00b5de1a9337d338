// Python-terms retainer paths: each hop is named by how the parent holds the child (a dict key,
// a list or tuple index, an attribute of an instance or module), found by reading the parent.
#include "mpheap/heap/python_path.h"

#include <fmt/format.h>

namespace mpheap::heap {
namespace {

bool holds(std::uint64_t value, const HeapObject& child, std::uint64_t block_size) {
  return value >= child.address && value < child.address + child.blocks * block_size;
}

}  // namespace

std::optional<std::string> python_path(const Snapshot& s, const ObjectGraph& g,
                                       const Reachability& r, const ObjectReader& reader,
                                       const target::Target& t, std::uint32_t object) {
  if (object >= s.objects.size() || r.reachable[object] == 0) return std::nullopt;
  std::vector<std::uint32_t> chain = retainer_chain(r, object);
  if (chain.empty()) return std::nullopt;
  auto roots = g.roots_of(chain.front());
  if (roots.empty()) return std::nullopt;
  const std::uint64_t bs = t.block_size;
  const std::uint64_t w = t.word_size;
  const target::ObjectLayout& L = t.objects;

  // The root word holds chain[0]. A root that is a dict's table names the dict instead.
  std::string expr = g.roots[roots.front()].name;
  bool first_is_table = false;
  if (expr.ends_with(".map.table")) {
    expr.resize(expr.size() - 10);
    if (expr == "mp_state_ctx.vm.mp_loaded_modules_dict") expr = "sys.modules";
    first_is_table = true;
  }
  bool attr_table = false;  // the next table's keys are attribute names (module globals)

  auto is_instance = [&](const HeapObject& o) {
    if (!o.type_pointer()) return false;
    const HeapObject* cls = reader.object_at(*o.type_pointer());
    return o.kind == ObjectKind::instance && cls != nullptr && cls->address == *o.type_pointer();
  };
  // [key] or .name of the slot of `table` whose value points into `child`.
  auto table_hop = [&](const HeapObject& table, const HeapObject& child,
                       bool attr) -> std::optional<std::string> {
    for (std::uint64_t k = 0; k < table.blocks * bs / (2 * w); ++k) {
      auto key = reader.read_word(table.address + 2 * k * w);
      auto value = reader.read_word(table.address + (2 * k + 1) * w);
      if (!key || !value || *key == 0 || !holds(*value, child, bs)) continue;
      std::string name = reader.repr(*key);
      if (attr && name.size() >= 2 && name.front() == '\'')
        return "." + name.substr(1, name.size() - 2);
      return "[" + name + "]";
    }
    return std::nullopt;
  };
  auto index_hop = [&](std::uint64_t first, std::uint64_t count,
                       const HeapObject& child) -> std::optional<std::string> {
    for (std::uint64_t k = 0; k < count && k < (1u << 16); ++k)
      if (auto v = reader.read_word(first + k * w); v && holds(*v, child, bs))
        return fmt::format("[{}]", k);
    return std::nullopt;
  };

  for (std::size_t i = 1; i < chain.size(); ++i) {
    const HeapObject& parent = s.objects[chain[i - 1]];
    const HeapObject& child = s.objects[chain[i]];
    std::optional<std::string> hop;
    if ((i == 1 && first_is_table) || parent.kind == ObjectKind::dict_table) {
      hop = table_hop(parent, child, attr_table);
      attr_table = false;
    } else if (parent.kind == ObjectKind::instance_members) {
      hop = table_hop(parent, child, true);
    } else if (parent.kind == ObjectKind::dict || parent.kind == ObjectKind::list ||
               is_instance(parent)) {
      hop = "";  // its table, items array or member table
    } else if (parent.kind == ObjectKind::module) {
      hop = "";
      attr_table = true;  // its globals dict: keys are attribute names
    } else if (parent.kind == ObjectKind::list_items) {
      hop = index_hop(parent.address, parent.blocks * bs / w, child);
    } else if (parent.kind == ObjectKind::tuple) {
      if (auto len = reader.read_word(parent.address + L.tuple_len))
        hop = index_hop(parent.address + L.tuple_items, *len, child);
    }
    if (hop) {
      expr += *hop;
    } else {
      expr += fmt::format(" -> {:#x} ({})", child.address, object_type_label(s, child));
      attr_table = false;
    }
  }
  return expr;
}

}  // namespace mpheap::heap
