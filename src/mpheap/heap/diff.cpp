// Snapshot difference: a merge of the two object lists ordered by address.
#include "mpheap/heap/diff.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <numeric>

#include "mpheap/heap/graph.h"

namespace mpheap::heap {
namespace {

// Object indices ordered by address (areas are kept in chain order, which need not be ascending).
std::vector<std::uint32_t> by_address(const Snapshot& s) {
  std::vector<std::uint32_t> order(s.objects.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) {
    return s.objects[x].address < s.objects[y].address;
  });
  return order;
}

bool same_type(const Snapshot& a, const HeapObject& x, const Snapshot& b, const HeapObject& y) {
  return a.type_name(x) == b.type_name(y) && a.class_name(x) == b.class_name(y);
}

}  // namespace

SnapshotDiff diff_snapshots(const Snapshot& a, const Snapshot& b, std::uint32_t block_size) {
  SnapshotDiff d;
  d.block_size = block_size;
  d.used_a = a.totals.used;
  d.used_b = b.totals.used;
  std::map<std::string, TypeChange> types;
  auto type_of = [&](const std::string& name) -> TypeChange& {
    TypeChange& c = types[name];
    c.type = name;
    return c;
  };
  auto on_new = [&](std::uint32_t k) {
    const HeapObject& o = b.objects[k];
    d.added.push_back({o.address, object_type_label(b, o), 0, o.blocks, 0, k});
    TypeChange& c = type_of(d.added.back().type);
    ++c.new_objects;
    c.new_bytes += o.blocks * block_size;
  };
  auto on_freed = [&](std::uint32_t k) {
    const HeapObject& o = a.objects[k];
    d.freed.push_back({o.address, object_type_label(a, o), o.blocks, 0, k, 0});
    TypeChange& c = type_of(d.freed.back().type);
    ++c.freed_objects;
    c.freed_bytes += o.blocks * block_size;
  };

  const std::vector<std::uint32_t> oa = by_address(a), ob = by_address(b);
  std::size_t i = 0, j = 0;
  while (i < oa.size() || j < ob.size()) {
    if (j == ob.size() || (i < oa.size() && a.objects[oa[i]].address < b.objects[ob[j]].address)) {
      on_freed(oa[i++]);
    } else if (i == oa.size() || b.objects[ob[j]].address < a.objects[oa[i]].address) {
      on_new(ob[j++]);
    } else {
      const HeapObject& x = a.objects[oa[i]];
      const HeapObject& y = b.objects[ob[j]];
      if (!same_type(a, x, b, y)) {
        on_freed(oa[i]);
        on_new(ob[j]);
      } else if (x.blocks == y.blocks) {
        ++d.unchanged_objects;
      } else {
        d.resized.push_back({x.address, object_type_label(a, x), x.blocks, y.blocks, oa[i], ob[j]});
        TypeChange& c = type_of(d.resized.back().type);
        if (y.blocks > x.blocks) {
          ++c.grown_objects;
          c.grown_bytes += (y.blocks - x.blocks) * block_size;
        } else {
          ++c.shrunk_objects;
          c.shrunk_bytes += (x.blocks - y.blocks) * block_size;
        }
      }
      ++i;
      ++j;
    }
  }

  for (auto& [name, c] : types) {
    d.total.new_objects += c.new_objects;
    d.total.new_bytes += c.new_bytes;
    d.total.freed_objects += c.freed_objects;
    d.total.freed_bytes += c.freed_bytes;
    d.total.grown_objects += c.grown_objects;
    d.total.grown_bytes += c.grown_bytes;
    d.total.shrunk_objects += c.shrunk_objects;
    d.total.shrunk_bytes += c.shrunk_bytes;
    d.by_type.push_back(std::move(c));
  }
  std::stable_sort(
      d.by_type.begin(), d.by_type.end(), [](const TypeChange& x, const TypeChange& y) {
        const std::int64_t nx = std::llabs(x.net_bytes()), ny = std::llabs(y.net_bytes());
        if (nx != ny) return nx > ny;
        return x.new_bytes + x.freed_bytes > y.new_bytes + y.freed_bytes;
      });
  return d;
}

}  // namespace mpheap::heap
