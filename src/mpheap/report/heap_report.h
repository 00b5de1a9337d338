// Presenters for heap snapshots: the block map micropython.mem_info(1) prints, and a summary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "mpheap/heap/snapshot.h"
#include "mpheap/report/report_heap.h"
#include "mpheap/target/target.h"

namespace mpheap::report {

// The same text gc_dump_alloc_table() prints: per area "GC memory layout; from ADDR:", then
// 64 blocks per line headed by the byte offset, "(N lines all free)" for runs of free lines.
std::string blockmap(const heap::Snapshot& s, const target::Target& t);

// gc_dump_info()'s two lines: "GC: total: ..., used: ..., free: ..." and the block counts.
std::string gc_info_text(const heap::HeapTotals& totals);

// gc_info, areas and blocks, the finaliser/weakref/selective-collect counts, objects by type
// and the diagnostics.
std::string heap_summary(const heap::Snapshot& s, const target::Target& t);

// One line per table the build has: "objects with finalisers: 1 (32 bytes)", "objects with weak
// references: ...", "not scanned (selective collect): 7 (928 bytes)"; "" when it has none.
std::string table_counts_text(const heap::Snapshot& s, const target::Target& t);

// What the tables say of one object, for --why and tooltips: "has finaliser", "weakly
// referenced", "not scanned by the GC (selective collect)", comma-separated; "" for none.
std::string object_flags_text(const heap::HeapObject& o);

inline constexpr int kHeapSnapshotJsonVersion = 3;

// `mpheap heap --json` for one snapshot (docs/formats/heap_snapshot.md), newline-terminated.
// With the snapshot's summary (the one the HTML report shows), each object also carries whether
// it is garbage, its retained size and what holds it.
std::string snapshot_json(const heap::Snapshot& s, const target::Target& t, std::uint64_t index,
                          const SnapshotSummary* summary = nullptr);

// The same, streamed: appends to `out` and calls `flush(out)` whenever it holds
// kJsonFlushBytes or more and once at the end (flush writes `out` somewhere and clears it).
using JsonFlush = std::function<void(std::string&)>;
inline constexpr std::size_t kJsonFlushBytes = 1 << 20;
void write_snapshot_json(std::string& out, const JsonFlush& flush, const heap::Snapshot& s,
                         const target::Target& t, std::uint64_t index,
                         const SnapshotSummary* summary = nullptr);

// A `held_by` path has at most this many hops; a deeper object's path starts at the ancestor
// named by `held_by_from` (docs/formats/heap_snapshot.md).
inline constexpr std::uint32_t kHeldByHops = 64;

}  // namespace mpheap::report
