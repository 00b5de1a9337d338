// Snapshot difference as text.
#include "mpheap/report/heap_diff.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <vector>

namespace mpheap::report {
namespace {

// "+3 (+96 B)" style cell: empty when there is nothing to show.
std::string cell(char sign, std::uint64_t objects, std::uint64_t bytes) {
  if (objects == 0) return "";
  return fmt::format("{}{} ({}{} B)", sign, objects, sign, bytes);
}

std::string signed_bytes(std::int64_t v) {
  return fmt::format("{:+}", v);
}

}  // namespace

std::string diff_text(const heap::SnapshotDiff& d, std::uint32_t block_size, std::size_t largest) {
  std::string out;
  auto o = std::back_inserter(out);
  fmt::format_to(o, "used: {} -> {} bytes ({})\n", d.used_a, d.used_b,
                 signed_bytes(d.used_delta()));
  const heap::TypeChange& t = d.total;
  fmt::format_to(o,
                 "objects: {} new (+{} B), {} freed (-{} B), {} grown (+{} B), {} shrunk (-{} B), "
                 "{} unchanged\n",
                 t.new_objects, t.new_bytes, t.freed_objects, t.freed_bytes, t.grown_objects,
                 t.grown_bytes, t.shrunk_objects, t.shrunk_bytes, d.unchanged_objects);
  if (!d.by_type.empty()) {
    std::size_t width = 4;
    for (const heap::TypeChange& c : d.by_type) width = std::max(width, c.type.size());
    fmt::format_to(o, "\nby type:\n  {:<{}}  {:>16}  {:>16}  {:>16}  {:>16}  {:>8}\n", "type",
                   width, "new", "freed", "grown", "shrunk", "net B");
    for (const heap::TypeChange& c : d.by_type)
      fmt::format_to(o, "  {:<{}}  {:>16}  {:>16}  {:>16}  {:>16}  {:>8}\n", c.type, width,
                     cell('+', c.new_objects, c.new_bytes),
                     cell('-', c.freed_objects, c.freed_bytes),
                     cell('+', c.grown_objects, c.grown_bytes),
                     cell('-', c.shrunk_objects, c.shrunk_bytes), signed_bytes(c.net_bytes()));
  }
  if (largest > 0 && !d.added.empty()) {
    std::vector<const heap::ObjectChange*> sorted;
    sorted.reserve(d.added.size());
    for (const heap::ObjectChange& c : d.added) sorted.push_back(&c);
    const std::size_t n = std::min(largest, sorted.size());
    std::partial_sort(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(n), sorted.end(),
                      [](const heap::ObjectChange* x, const heap::ObjectChange* y) {
                        if (x->blocks_b != y->blocks_b) return x->blocks_b > y->blocks_b;
                        return x->address < y->address;
                      });
    fmt::format_to(o, "\nlargest new objects:\n");
    for (std::size_t k = 0; k < n; ++k)
      fmt::format_to(o, "  {:#010x}  {:>8} B  {}\n", sorted[k]->address,
                     sorted[k]->blocks_b * block_size, sorted[k]->type);
  }
  if (!d.resized.empty()) {
    fmt::format_to(o, "\nresized objects:\n");
    for (std::size_t k = 0; k < d.resized.size() && k < std::max<std::size_t>(largest, 1); ++k) {
      const heap::ObjectChange& c = d.resized[k];
      fmt::format_to(o, "  {:#010x}  {:>8} -> {} B  {}\n", c.address, c.blocks_a * block_size,
                     c.blocks_b * block_size, c.type);
    }
  }
  return out;
}

}  // namespace mpheap::report
