// A sequence of 120 whole-RAM dumps taken at the hook stops of a real run (qemu-microbit
// ram_seq.bin), decoded one by one and checked against the replay of the gdb log of the same
// (deterministic) firmware run: the blocks in use in each dump equal the blocks the trace says
// were live before that stop's event.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "mpheap/heap/snapshot.h"
#include "mpheap/target/from_map.h"
#include "mpheap/target/layout_heuristics.h"
#include "mpheap/trace/gdb_log_reader.h"
#include "mpheap/trace/replay.h"
#include "trace/test_util.h"

namespace mpheap::heap {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

TEST(SnapshotSequence, MicrobitDumpsAgreeWithTraceReplay) {
  // Live blocks after each event of the trace.
  std::vector<std::uint64_t> live_after;
  {
    auto input = io::LineReader::open(data_path("qemu-microbit/gc_log_backtrace.txt"));
    ASSERT_TRUE(input);
    trace::StackTable stacks;
    trace::GdbLogReader reader(**input, stacks);
    trace::Replay replay(stacks);
    std::vector<trace::EndedAllocation> ended;
    for (std::uint64_t time = 0;; ++time) {
      auto e = reader.next();
      ASSERT_TRUE(e);
      if (!e->has_value()) break;
      ended.clear();
      replay.apply(**e, time, ended);
      live_after.push_back(replay.live_blocks());
    }
    ASSERT_EQ(live_after.size(), 1471u);
  }
  auto t = target::read_map_target(
      read_file(data_path("qemu-microbit/firmware.map")), "firmware.map",
      read_file(data_path("qemu-microbit/firmware.nm")), "firmware.nm", "", "");
  ASSERT_TRUE(t);
  std::string seq = read_file(data_path("qemu-microbit/ram_seq.bin"));
  constexpr std::size_t kDump = 16384;
  ASSERT_EQ(seq.size(), 120 * kDump);

  std::istringstream index(read_file(data_path("qemu-microbit/ram_seq_index.txt")));
  std::size_t checked = 0;
  bool layout_found = false;
  for (std::string line; std::getline(index, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream f(line);
    std::size_t dump = 0, stop = 0, event = 0;
    std::string kind;
    f >> dump >> stop >> event >> kind;
    io::MemoryImage ram;
    const auto* p = reinterpret_cast<const std::uint8_t*>(seq.data()) + (dump - 1) * kDump;
    ram.add(io::MemoryRange{0x20000000, std::vector<std::uint8_t>(p, p + kDump), "ram_seq.bin"});
    if (!layout_found) {
      // The first dumps are taken during mp_init, before the heap area is set up fully; the
      // layout is found in the first dump that shows one.
      if (!target::infer_layout(*t, ram, std::nullopt)) continue;
      layout_found = true;
    }
    auto snap = decode_snapshot(*t, ram, 0);
    ASSERT_TRUE(snap) << "dump " << dump << ": " << snap.error().message();
    // During a collection the reachable heads carry the mark (the sweep is half done).
    std::uint64_t used = snap->totals.heads + snap->totals.tails + snap->totals.marks;
    // Before event `event` (1-based): after the first event-1 events (realloc stops are taken
    // after the table change; there is none among these dumps).
    ASSERT_NE(kind, "realloc");
    std::uint64_t expected = event >= 2 ? live_after[event - 2] : 0;
    EXPECT_EQ(used, expected) << "dump " << dump << " (event " << event << ", " << kind << ")";
    ++checked;
  }
  EXPECT_TRUE(layout_found);
  EXPECT_GE(checked, 110u);
}

}  // namespace
}  // namespace mpheap::heap
