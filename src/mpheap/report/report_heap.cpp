// Summarises a heap snapshot for the HTML report.
#include "mpheap/report/report_heap.h"

#include <unordered_map>

#include "mpheap/heap/fragmentation.h"
#include "mpheap/heap/python_path.h"
#include "mpheap/report/heap_report.h"

namespace mpheap::report {

SnapshotSummary summarize_snapshot(std::string label, const heap::Snapshot& s,
                                   const target::Target& t, const heap::SnapshotAnalysis& analysis,
                                   const heap::ObjectReader& reader) {
  SnapshotSummary out;
  out.label = std::move(label);
  out.totals = s.totals;
  std::vector<std::uint64_t> area_offset;
  std::uint64_t offset = 0;
  for (const heap::AreaSnapshot& a : s.areas) {
    out.areas.push_back({a.bounds.pool_start, a.bounds.blocks()});
    area_offset.push_back(offset);
    offset += a.bounds.blocks();
  }
  const heap::ObjectGraph& graph = analysis.graph;
  const heap::Reachability& reach = analysis.reach;
  const heap::DominatorTree& dom = analysis.dominators;
  heap::PythonHops hops = heap::python_hops(s, graph, reach, reader, t);
  out.objects.reserve(s.objects.size());
  std::unordered_map<std::string, std::uint32_t> index{{std::string(), 0}};
  auto intern = [&](std::string text) {
    auto [it, added] = index.try_emplace(std::move(text), static_cast<std::uint32_t>(index.size()));
    if (added) out.strings.push_back(it->first);
    return it->second;
  };
  for (std::uint32_t i = 0; i < s.objects.size(); ++i) {
    const heap::HeapObject& o = s.objects[i];
    SnapshotObject x;
    x.block = (o.area < area_offset.size() ? area_offset[o.area] : 0) + o.block;
    x.blocks = o.blocks;
    x.retained_bytes = dom.retained_bytes[i];
    x.type = intern(heap::object_type_label(s, o));
    x.garbage = reach.reachable[i] == 0;
    x.parent = hops.parent[i];
    x.depth = hops.depth[i];
    x.hop = intern(std::move(hops.hop[i]));
    out.objects.push_back(std::move(x));
  }
  heap::FreeRuns runs = heap::free_runs(s);
  out.largest_free_run = runs.largest;
  out.free_histogram = runs.histogram;
  return out;
}

std::string held_by(const SnapshotSummary& s, std::uint32_t i, std::uint32_t from_depth,
                    std::uint32_t* anchor) {
  std::vector<std::uint32_t> chain;
  std::uint32_t o = i;
  while (o < s.objects.size() && s.objects[o].depth > from_depth) {
    chain.push_back(o);
    o = s.objects[o].parent;
  }
  if (anchor != nullptr) *anchor = o;
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) out += s.strings[s.objects[*it].hop];
  return out;
}

}  // namespace mpheap::report
