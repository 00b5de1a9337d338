// What every view of a decoded snapshot starts from: its ownership graph from the roots, what
// those roots reach (the rest is garbage the next collection frees) and the dominator tree with
// retained sizes. One function computes it, so no two views can disagree.
#pragma once

#include "mpheap/heap/dominators.h"
#include "mpheap/heap/graph.h"
#include "mpheap/heap/snapshot.h"
#include "mpheap/io/memory_image.h"
#include "mpheap/target/target.h"

namespace mpheap::heap {

struct SnapshotAnalysis {
  ObjectGraph graph;
  Reachability reach;
  DominatorTree dominators;
};

SnapshotAnalysis analyze_snapshot(const target::Target& t, const io::MemoryImage& memory,
                                  const Snapshot& s, const GraphOptions& options);

}  // namespace mpheap::heap
