// Ground truth from the real logs in tests/data (copied from the shared fixtures; each folder's
// README states how it was captured). Counts come from the firmware's own counters.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mpheap/report/history_json.h"
#include "mpheap/report/trace_report.h"
#include "mpheap/trace/call_tree.h"
#include "test_util.h"

namespace mpheap::trace {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::kind;
using mpheap::testing::read_file;

struct Truth {
  const char* file;
  std::uint64_t stops, duplicates, alloc, free, sweep, realloc;
  std::uint64_t live_allocations, live_blocks, unlogged;
  std::uint64_t peak;  // 0: not stated by the fixture
  LogStyle style;
  std::uint64_t block_size;
};

// unix-x64/README.md, qemu-microbit/README.md, circuitpython-unix/README.md.
const Truth kTruths[] = {
    {"unix-x64/gc_log_backtrace.txt", 1201, 0, 607, 45, 490, 59, 72, 396, 0, 2014,
     LogStyle::backtrace, 32},
    {"unix-x64/gc_log_pup.txt", 317, 0, 162, 83, 9, 63, 70, 137, 0, 290, LogStyle::up, 32},
    {"unix-x64/gc_log_nosweep.txt", 711, 0, 607, 45, 0, 59, 198, 2010, 364, 0, LogStyle::backtrace,
     32},
    {"qemu-microbit/gc_log_backtrace.txt", 1486, 15, 759, 61, 650, 1, 48, 98, 0, 0,
     LogStyle::backtrace, 16},
    {"qemu-microbit/gc_log_pup.txt", 1490, 19, 759, 61, 650, 1, 48, 98, 0, 0, LogStyle::up, 16},
    {"qemu-microbit/gc_log_ram.txt", 1488, 17, 759, 61, 650, 1, 48, 98, 0, 0, LogStyle::summary,
     16},
    {"circuitpython-unix/gc_log_backtrace.txt", 1255, 0, 1032, 104, 0, 119, 377, 1960, 551, 1981,
     LogStyle::backtrace, 32},
    {"circuitpython-unix/gc_log_cpstyle.txt", 1255, 0, 1032, 104, 0, 119, 377, 1960, 551, 1981,
     LogStyle::up, 32},
};

void PrintTo(const Truth& t, std::ostream* os) {
  *os << t.file;
}

class FixtureLog : public ::testing::TestWithParam<Truth> {};

TEST_P(FixtureLog, AgreesWithFirmwareCounters) {
  const Truth& t = GetParam();
  auto input = io::LineReader::open(data_path(t.file));
  ASSERT_TRUE(input) << input.error().message();
  auto r = analyze_trace(**input, TraceOptions{}, nullptr);
  ASSERT_TRUE(r) << r.error().message();
  const TraceSummary& s = r->summary;
  EXPECT_EQ(s.stops, t.stops);
  EXPECT_EQ(s.duplicates, t.duplicates);
  EXPECT_EQ(s.events, t.stops - t.duplicates);
  EXPECT_EQ(kind(s, EventKind::alloc), t.alloc);
  EXPECT_EQ(kind(s, EventKind::free), t.free);
  EXPECT_EQ(kind(s, EventKind::sweep), t.sweep);
  EXPECT_EQ(kind(s, EventKind::realloc), t.realloc);
  EXPECT_EQ(s.by_caller, s.events);  // every stop shows its caller
  EXPECT_EQ(s.live_allocations_end, t.live_allocations);
  EXPECT_EQ(s.live_blocks_end, t.live_blocks);
  EXPECT_EQ(s.unlogged, t.unlogged);
  EXPECT_EQ(s.unmatched_frees, 0u);
  if (t.peak != 0) {
    EXPECT_EQ(s.peak_live_blocks, t.peak);
  }
  EXPECT_EQ(s.sweeps_logged, t.sweep > 0);
  EXPECT_EQ(s.style, t.style);
  EXPECT_EQ(s.block_size, t.block_size);
  EXPECT_FALSE(s.incomplete_last_event);
  // The tree accounts for every live block.
  CallTree tree = build_call_tree(r->stacks, std::span<const std::int64_t>(r->live_by_stack));
  EXPECT_EQ(tree.total_blocks, t.live_blocks);
}

INSTANTIATE_TEST_SUITE_P(AllLogs, FixtureLog, ::testing::ValuesIn(kTruths),
                         [](const auto& param_info) {
                           std::string n = param_info.param.file;
                           for (char& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

// The history agrees entry for entry with CircuitPython's gc_activity.py on the same log, except
// that mpheap calls the collector's frees "sweep" where that tool (which only knows a caller
// named exactly gc_sweep) says "free".
TEST(FixtureHistory, MatchesReferenceToolOnUnixBacktraceLog) {
  std::string path = "/tmp/mpheap_test_history_" + std::to_string(::getpid()) + ".json";
  {
    auto input = io::LineReader::open(data_path("unix-x64/gc_log_backtrace.txt"));
    ASSERT_TRUE(input);
    auto out = report::Output::open(path);
    ASSERT_TRUE(out);
    report::HistoryJsonWriter writer(**out);
    auto r = analyze_trace(**input, TraceOptions{}, &writer);
    ASSERT_TRUE(r);
    writer.finish();
    ASSERT_TRUE((*out)->close());
    EXPECT_EQ(writer.entries(), 666u);
  }
  auto mine = nlohmann::json::parse(read_file(path));
  std::remove(path.c_str());
  auto ref =
      nlohmann::json::parse(read_file(data_path("unix-x64/reference_allocation_history.json")));
  ASSERT_EQ(mine.size(), ref.size());
  std::map<std::pair<int, int>, nlohmann::json> by_key;
  for (auto& e : mine) by_key[{e["start_block"].get<int>(), e["start_time"].get<int>()}] = e;
  int sweeps = 0, live = 0;
  for (auto& want : ref) {
    auto it = by_key.find({want["start_block"].get<int>(), want["start_time"].get<int>()});
    ASSERT_NE(it, by_key.end()) << want.dump();
    const auto& got = it->second;
    EXPECT_EQ(got["size"], want["size"]);
    EXPECT_EQ(got["start_trace"], want["start_trace"]);
    EXPECT_EQ(got["end_trace"], want["end_trace"]);
    EXPECT_EQ(got["end_time"], want["end_time"]);
    if (!want.contains("end_cause")) {
      EXPECT_FALSE(got.contains("end_cause"));
      EXPECT_EQ(got["end_trace"], "");
      ++live;
    } else if (got["end_cause"] == "sweep") {
      EXPECT_EQ(want["end_cause"], "free");
      EXPECT_EQ(got["end_trace"][0][2], "gc_sweep_free_blocks");
      ++sweeps;
    } else {
      EXPECT_EQ(got["end_cause"], want["end_cause"]);
    }
  }
  EXPECT_EQ(sweeps, 490);
  EXPECT_EQ(live, 72);
  // A specific entry: the second allocation of mp_init, freed at event 20 by mp_map_rehash.
  const auto& first = mine[0];
  EXPECT_EQ(first["start_block"], 2);
  EXPECT_EQ(first["size"], 1);
  EXPECT_EQ(first["start_time"], 1);
  EXPECT_EQ(first["end_time"], 20);
  EXPECT_EQ(first["end_cause"], "free");
  EXPECT_EQ(first["start_trace"][0],
            nlohmann::json::parse(R"(["0x000055555556d63b", "../../py/gc.c:967", "gc_alloc"])"));
  EXPECT_EQ(first["start_trace"].back(),
            nlohmann::json::parse(R"(["0x00005555555be488", "main.c:452", "main"])"));
  EXPECT_EQ(first["end_trace"][1],
            nlohmann::json::parse(R"(["0x0", "../../py/gc.c:1020", "gc_free"])"));
}

// The live tree equals the reference tool's, less the frames in py/gc.c and py/malloc.c (which
// that tool means to leave out but does not, as it expects paths starting "../py/").
TEST(FixtureTree, MatchesReferenceToolTree) {
  auto input = io::LineReader::open(data_path("unix-x64/gc_log_backtrace.txt"));
  ASSERT_TRUE(input);
  auto r = analyze_trace(**input, TraceOptions{}, nullptr);
  ASSERT_TRUE(r);
  std::string text = report::call_tree_text(
      build_call_tree(r->stacks, std::span<const std::int64_t>(r->live_by_stack)));
  std::string ref = read_file(data_path("unix-x64/reference_gc_activity_stdout.txt"));
  std::vector<std::string> want, got;
  std::istringstream rs(ref.substr(ref.find("\n\n") + 2));
  for (std::string line; std::getline(rs, line);) {
    if (line.find("py/gc.c") != std::string::npos || line.find("py/malloc.c") != std::string::npos)
      continue;
    auto b = line.find_first_not_of(' ');
    if (b != std::string::npos) want.push_back(line.substr(b));
  }
  std::istringstream ts(text);
  for (std::string line; std::getline(ts, line);)
    got.push_back(line.substr(line.find_first_not_of(' ')));
  EXPECT_EQ(got, want);
  EXPECT_EQ(got.front(), "main.c:452 main 396 blocks");
  EXPECT_EQ(got.back(), "396 total blocks");
}

// --at: the tree as it stood when the snapshots were taken.
TEST(FixtureTree, AtEventMatchesSnapshotState) {
  struct Case {
    const char* file;
    std::uint64_t at, blocks;
  };
  // unix-x64 snap1 after 308 events: 176 blocks (79 heads + 97 tails);
  // circuitpython-unix: the log-only replay of the first 312 events believes 168 blocks live.
  for (Case c : {Case{"unix-x64/gc_log_pup.txt", 307, 176},
                 Case{"circuitpython-unix/gc_log_cpstyle.txt", 311, 168}}) {
    auto input = io::LineReader::open(data_path(c.file));
    ASSERT_TRUE(input);
    TraceOptions o;
    o.at_event = c.at;
    auto r = analyze_trace(**input, o, nullptr);
    ASSERT_TRUE(r);
    EXPECT_EQ(
        build_call_tree(r->stacks, std::span<const std::int64_t>(r->live_by_stack)).total_blocks,
        c.blocks)
        << c.file;
    EXPECT_EQ(r->tree_event, c.at);
  }
}

TEST(FixtureCollections, UnixBacktraceHasFiveCollections) {
  auto input = io::LineReader::open(data_path("unix-x64/gc_log_backtrace.txt"));
  ASSERT_TRUE(input);
  CollectionList list;
  TraceOptions o;
  o.collection_sink = &list;
  auto r = analyze_trace(**input, o, nullptr);
  ASSERT_TRUE(r);
  std::uint64_t collections = 0, freed = 0;
  for (const auto& c : list.all) {
    if (c.trailing) continue;
    ++collections;
    freed += c.objects_freed;
  }
  EXPECT_EQ(collections, 5u);  // README: 5 GC cycles
  EXPECT_EQ(r->collections, 5u);
  EXPECT_EQ(freed, 490u);
  EXPECT_EQ(list.all[4].objects_freed, 57u);  // gc_collected of the last one
}

TEST(FixtureCutOff, TruncatedRealLogKeepsCompleteEvents) {
  std::string log = read_file(data_path("qemu-microbit/gc_log_backtrace.txt"));
  // Cut in the middle of the backtrace of stop number 1000 (values first, frames last).
  std::size_t pos = 0;
  for (int i = 0; i < 1000; ++i) pos = log.find("\nBreakpoint 1, ", pos + 1);
  std::size_t cut = log.find("#3 ", pos);
  auto r = mpheap::testing::analyze_text(std::string_view(log).substr(0, cut));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->summary.incomplete_last_event);
  EXPECT_EQ(r->summary.stops, 1000u);
  EXPECT_EQ(r->summary.events + r->summary.duplicates, 999u);
  // Cut right after a complete stop: nothing is lost.
  std::size_t next = log.find("\nBreakpoint 1, ", pos + 1);
  auto whole = mpheap::testing::analyze_text(std::string_view(log).substr(0, next + 1));
  ASSERT_TRUE(whole);
  EXPECT_FALSE(whole->summary.incomplete_last_event);
  EXPECT_EQ(whole->summary.events + whole->summary.duplicates, 1000u);
}

}  // namespace
}  // namespace mpheap::trace
