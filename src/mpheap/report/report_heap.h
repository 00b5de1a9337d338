// What the HTML report shows of one heap snapshot: its objects with type, retained size and
// retainer path, its areas, totals and free-run histogram.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mpheap/heap/analysis.h"
#include "mpheap/heap/objects.h"
#include "mpheap/heap/snapshot.h"
#include "mpheap/target/target.h"

namespace mpheap::report {

struct SnapshotArea {
  std::uint64_t pool_start = 0;  // run-time address of block 0
  std::uint64_t blocks = 0;
};

struct SnapshotObject {
  std::uint64_t block = 0;  // counted over the areas laid end to end
  std::uint64_t retained_bytes = 0;
  std::uint32_t blocks = 0;
  // object_type_label's type part ("dict", "Sprite", "str data", "unknown"): an index into
  // SnapshotSummary::strings.
  std::uint32_t type = 0;
  // The retainer path in Python terms, as its last hop (heap::PythonHops): the path is the
  // parent's path followed by `hop` (an index into SnapshotSummary::strings); `held_by`
  // writes it out.
  std::uint32_t hop = 0;
  std::uint32_t parent = 0xffffffffu;  // index in `objects`; none for root-held and garbage
  std::uint32_t depth = 0;             // hops from the root; 0 for garbage
  bool garbage = false;
  bool reader = false;  // mpheap's REPL reader's, or held by it alone
};

struct SnapshotSummary {
  std::string label;  // "ram_seq.bin #12"
  // When it was taken, in ms since the capture started (a sequence's header), else nullopt.
  std::optional<double> time_ms;
  std::vector<SnapshotArea> areas;
  std::vector<SnapshotObject> objects;  // in block order
  // The objects' types and hops, each once ("" first): a heap has few distinct ones, and an
  // 8 MiB heap has 194,135 objects.
  std::vector<std::string> strings{std::string()};
  heap::HeapTotals totals;
  std::uint64_t largest_free_run = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> free_histogram;  // (run length, count)
};

// The summary of a decoded snapshot whose types are named, from its analysis (retainer paths
// in Python terms through `reader`).
SnapshotSummary summarize_snapshot(std::string label, const heap::Snapshot& s,
                                   const target::Target& t, const heap::SnapshotAnalysis& analysis,
                                   const heap::ObjectReader& reader);

// Object `i`'s retainer path: the hops from `from_depth` down to it (from the root when 0).
// With `from_depth` > 0 the path starts below the ancestor at that depth, `*anchor` (an index
// in `objects`); paths written from an anchor keep the text of every object's path linear in
// the length of a chain.
std::string held_by(const SnapshotSummary& s, std::uint32_t i, std::uint32_t from_depth = 0,
                    std::uint32_t* anchor = nullptr);

}  // namespace mpheap::report
