// Summarises a heap snapshot for the HTML report.
#include "mpheap/report/report_heap.h"

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
  out.objects.reserve(s.objects.size());
  for (std::uint32_t i = 0; i < s.objects.size(); ++i) {
    const heap::HeapObject& o = s.objects[i];
    SnapshotObject x;
    x.block = (o.area < area_offset.size() ? area_offset[o.area] : 0) + o.block;
    x.blocks = o.blocks;
    x.retained_bytes = dom.retained_bytes[i];
    x.type = heap::object_type_label(s, o);
    x.flags = object_flags_text(o);
    x.garbage = reach.reachable[i] == 0;
    if (!x.garbage) x.path = heap::python_path(s, graph, reach, reader, t, i).value_or("");
    out.objects.push_back(std::move(x));
  }
  heap::FreeRuns runs = heap::free_runs(s);
  out.largest_free_run = runs.largest;
  out.free_histogram = runs.histogram;
  return out;
}

}  // namespace mpheap::report
