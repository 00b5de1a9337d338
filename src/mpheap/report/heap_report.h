// Presenters for heap snapshots: the block map micropython.mem_info(1) prints, and a summary.
#pragma once

#include <string>

#include "mpheap/heap/snapshot.h"
#include "mpheap/target/target.h"

namespace mpheap::report {

// The same text gc_dump_alloc_table() prints: per area "GC memory layout; from ADDR:", then
// 64 blocks per line headed by the byte offset, "(N lines all free)" for runs of free lines.
std::string blockmap(const heap::Snapshot& s, const target::Target& t);

// gc_dump_info()'s two lines: "GC: total: ..., used: ..., free: ..." and the block counts.
std::string gc_info_text(const heap::HeapTotals& totals);

std::string heap_summary(const heap::Snapshot& s, const target::Target& t);

}  // namespace mpheap::report
