// The ownership graph of one decoded snapshot: a conservative pointer scan as MicroPython's GC
// does it (every aligned word inside an allocation that points into an allocated block is an
// edge; CircuitPython's collect table exempts some allocations), plus the root words found in
// .data/.bss, mp_state_ctx and an optional stack range.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mpheap/heap/snapshot.h"
#include "mpheap/io/memory_image.h"
#include "mpheap/io/registers.h"
#include "mpheap/target/target.h"

namespace mpheap::heap {

// A range of run-time addresses [start, end).
struct AddressRange {
  std::uint64_t start = 0, end = 0;
};

struct GraphOptions {
  // A stack range to scan as roots (e.g. SP .. stack_top), run-time addresses.
  std::optional<AddressRange> stack;
  // Register values at the moment of the dump (gc_collect pushes the callee-saved registers
  // before it scans the stack, so what they point at stays alive).
  std::vector<io::Register> registers;
  // Scan the target's .data/.bss regions (minus the heap areas and mp_state_ctx.mem). Without
  // them, or when the target has none, only mp_state_ctx up to its mem struct is scanned,
  // which is what gc_collect_start() does on most ports.
  bool scan_data_bss = true;
  // A pointer into the middle of an allocation keeps it alive. MicroPython's VERIFY_PTR only
  // accepts block-aligned pointers to head blocks; set false to follow exactly those.
  bool interior_pointers = true;
  // Leave out the contents of allocations whose selective-collect bit is clear (CircuitPython's
  // collect table): its collector never scans them, so pointer-like bytes in them (bytearray
  // data, bytecode) keep nothing alive. Builds without the table scan everything.
  bool selective_collect = true;
};

// One root word: where it is and which object it points at.
struct RootRef {
  std::uint64_t slot = 0;    // run-time address of the word (0 for a register)
  std::uint64_t value = 0;   // the pointer it holds
  std::uint32_t object = 0;  // index into Snapshot::objects
  std::string
      name;  // "mp_state_ctx.vm.dict_main.map.table", "symbol+8", "stack+0x10", "register r4"
  bool stack = false;  // a word of the scanned C stack
  // A stack word in a running Python function's state (heap/python_stack names it so).
  bool python_frame = false;
};

struct ObjectGraph;
// The root to name a path after among `refs` (indices into ObjectGraph::roots, non-empty): a
// static slot says more than a Python frame's slot, which says more than a register or a bare
// stack offset.
std::uint32_t preferred_root(const ObjectGraph& g, std::span<const std::uint32_t> refs);

// Compressed sparse rows: object i's edges are edges[edge_begin[i] .. edge_begin[i+1]), each an
// index into Snapshot::objects (deduplicated per source, self-references dropped); its root
// references are roots[root_index[root_begin[i] .. root_begin[i+1])].
struct ObjectGraph {
  std::uint32_t word_size = 4;
  std::uint32_t block_size = 16;
  std::vector<std::uint32_t> edge_begin;  // object_count + 1
  std::vector<std::uint32_t> edges;
  std::vector<RootRef> roots;  // in slot order
  // Indices into roots, by object (then slot order): a handful of roots, so no row per object.
  std::vector<std::uint32_t> root_index;
  std::vector<AddressRange> root_ranges;  // what was scanned for roots
  std::optional<AddressRange> pystack;    // the pystack in use, scanned (MICROPY_ENABLE_PYSTACK)
  std::uint64_t words_scanned = 0;        // heap and root words read
  std::uint64_t words_not_captured = 0;   // skipped: not in the dumps
  std::uint64_t objects_not_scanned = 0;  // left out by selective collect: no out-edges

  [[nodiscard]] std::size_t object_count() const {
    return edge_begin.empty() ? 0 : edge_begin.size() - 1;
  }
  [[nodiscard]] std::span<const std::uint32_t> out_edges(std::uint32_t object) const {
    return {edges.data() + edge_begin[object], edges.data() + edge_begin[object + 1]};
  }
  [[nodiscard]] std::span<const std::uint32_t> roots_of(std::uint32_t object) const {
    auto first = std::partition_point(root_index.begin(), root_index.end(),
                                      [&](std::uint32_t k) { return roots[k].object < object; });
    auto last = std::partition_point(first, root_index.end(),
                                     [&](std::uint32_t k) { return roots[k].object == object; });
    return {first, last};
  }
  [[nodiscard]] bool is_rooted(std::uint32_t object) const { return !roots_of(object).empty(); }
};

// The object whose blocks contain `address` (head or tail, interior addresses too), if any.
// A block size of 0 derives it from each area's pool size and block count.
std::optional<std::uint32_t> object_containing(const Snapshot& s, std::uint64_t address,
                                               std::uint32_t block_size = 0);

ObjectGraph build_graph(const target::Target& t, const io::MemoryImage& memory, const Snapshot& s,
                        const GraphOptions& options = {});

// "int (3 blocks)" style label: the object's type, class name, or "unknown".
std::string object_type_label(const Snapshot& s, const HeapObject& o);

}  // namespace mpheap::heap
