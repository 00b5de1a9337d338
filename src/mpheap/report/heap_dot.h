// Graphviz DOT ownership graph of one snapshot, as CircuitPython's analyze_heap_dump.py drew it:
// a node per object labelled with its address, type and size plus what it holds (str text,
// dict keys, qstr chunk strings), a node per named root, and the pointer edges between them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "mpheap/heap/graph.h"
#include "mpheap/heap/objects.h"
#include "mpheap/heap/snapshot.h"
#include "mpheap/target/target.h"

namespace mpheap::report {

struct DotOptions {
  // At most this many object nodes, the largest retained size first (garbage by its own
  // size); 0 draws every object. Edges and roots are drawn only between the nodes kept.
  std::size_t max_nodes = 0;
  std::size_t max_text = 40;  // characters of str/bytes text in a label
  std::size_t max_items = 8;  // dict keys or qstrs in a label
  bool roots = true;          // a node per root name, with edges to the objects it holds
  bool garbage = true;        // objects no root reaches (drawn dashed)
};

// `text` as the inside of a DOT double-quoted label: '"' and '\' escaped, every newline a
// left-justified line break (\l), other control characters and bytes that are not UTF-8
// shown as \xNN. Safe in plain (non-record, non-HTML) labels, which is all this file emits.
std::string dot_escape(std::string_view text);

std::string ownership_dot(const heap::Snapshot& s, const heap::ObjectGraph& g,
                          const heap::ObjectReader& reader, const target::Target& t,
                          const DotOptions& options = {});

}  // namespace mpheap::report
