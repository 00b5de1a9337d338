// The graph, reachability and dominators of one snapshot, computed together.
#include "mpheap/heap/analysis.h"

namespace mpheap::heap {

SnapshotAnalysis analyze_snapshot(const target::Target& t, const io::MemoryImage& memory,
                                  const Snapshot& s, const GraphOptions& options) {
  SnapshotAnalysis a;
  a.graph = build_graph(t, memory, s, options);
  a.reach = reachability(s, a.graph);
  a.dominators = dominators(s, a.graph);
  return a;
}

}  // namespace mpheap::heap
