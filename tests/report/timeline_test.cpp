// The memory-over-time series against the fixtures' ground truth and a brute-force free-run scan.
#include "mpheap/trace/timeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "mpheap/trace/live_at.h"
#include "trace/test_util.h"

namespace mpheap::trace {
namespace {

using mpheap::testing::data_path;

Expected<Timeline> timeline_of(const std::string& rel, const TimelineOptions& o) {
  auto input = io::LineReader::open(data_path(rel));
  if (!input) return input.error();
  return compute_timeline(**input, o);
}

TraceResult analyze(const std::string& rel, CollectionSink* collections = nullptr) {
  auto input = io::LineReader::open(data_path(rel));
  EXPECT_TRUE(input);
  TraceOptions o;
  o.collection_sink = collections;
  auto r = analyze_trace(**input, o, nullptr);
  EXPECT_TRUE(r);
  return std::move(*r);
}

std::uint64_t collections_of(const TraceResult& r) {
  return r.collections;
}

// Largest run of `false` in `used`.
std::uint64_t largest_free_scan(const std::vector<bool>& used) {
  std::uint64_t best = 0, run = 0;
  for (bool u : used) {
    run = u ? 0 : run + 1;
    best = std::max(best, run);
  }
  return best;
}

TEST(TimelineFreeRuns, MatchesBruteForceOnRandomActivity) {
  constexpr std::uint64_t kHeap = 300;
  FreeRunSet runs(kHeap);
  std::vector<bool> used(kHeap, false);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> live;
  std::mt19937 rng(42);
  for (int step = 0; step < 20000; ++step) {
    if (!live.empty() && rng() % 2 == 0) {
      std::size_t i = rng() % live.size();
      auto [s, n] = live[i];
      runs.release(s, n);
      for (std::uint64_t b = s; b < s + n; ++b) used[b] = false;
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      std::uint64_t s = rng() % kHeap, n = 1 + rng() % 8;
      bool fits = s + n <= kHeap && std::none_of(used.begin() + static_cast<std::ptrdiff_t>(s),
                                                 used.begin() + static_cast<std::ptrdiff_t>(s + n),
                                                 [](bool u) { return u; });
      ASSERT_EQ(runs.allocate(s, n), fits) << "step " << step;
      if (fits) {
        for (std::uint64_t b = s; b < s + n; ++b) used[b] = true;
        live.emplace_back(s, n);
      }
    }
    auto free_count = static_cast<std::uint64_t>(std::count(used.begin(), used.end(), false));
    ASSERT_EQ(runs.free_blocks(), free_count) << "step " << step;
    ASSERT_EQ(runs.largest(), largest_free_scan(used)) << "step " << step;
  }
}

TEST(TimelineFixture, LiveBlocksAgreeWithTheSummary) {
  for (const char* rel :
       {"unix-x64/gc_log_backtrace.txt", "unix-x64/gc_log_pup.txt",
        "qemu-microbit/gc_log_backtrace.txt", "circuitpython-unix/gc_log_cpstyle.txt"}) {
    TraceResult r = analyze(rel);
    auto t = timeline_of(rel, {});
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_FALSE(t->heap_blocks) << rel;
    EXPECT_EQ(t->events, r.summary.events) << rel;
    ASSERT_EQ(t->points.size(), r.summary.events) << rel;
    EXPECT_EQ(t->points.back().event, r.summary.events - 1) << rel;
    EXPECT_EQ(t->points.back().live_blocks, r.summary.live_blocks_end) << rel;
    auto max = std::max_element(t->points.begin(), t->points.end(),
                                [](auto& a, auto& b) { return a.live_blocks < b.live_blocks; });
    EXPECT_EQ(max->live_blocks, r.summary.peak_live_blocks) << rel;
    EXPECT_EQ(t->peak_live_blocks, r.summary.peak_live_blocks) << rel;
    EXPECT_EQ(t->peak_event, r.summary.peak_event) << rel;
    EXPECT_EQ(t->collections, collections_of(r)) << rel;
    auto sweeps = static_cast<std::uint64_t>(
        std::count_if(t->points.begin(), t->points.end(), [](auto& p) { return p.collection; }));
    EXPECT_EQ(sweeps, r.summary.kinds[static_cast<int>(EventKind::sweep)]) << rel;
    EXPECT_EQ(t->points.back().free_blocks, 0u) << rel;  // heap size unknown: not invented
    EXPECT_FALSE(t->min_largest_free_run) << rel;
  }
  // The fixture READMEs: unix backtrace log 396 live at the end, peak 2014, 5 collections.
  auto t = timeline_of("unix-x64/gc_log_backtrace.txt", {});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->points.back().live_blocks, 396u);
  EXPECT_EQ(t->peak_live_blocks, 2014u);
  EXPECT_EQ(t->collections, 5u);
}

TEST(TimelineFixture, FreeBlocksAndLargestRunWithTheHeapSize) {
  // Heap sizes from the firmware's mem_info printouts: unix 64640 bytes / 32, micro:bit
  // 7936 bytes / 16.
  struct Case {
    const char* rel;
    std::uint64_t heap_blocks;
  };
  for (const Case& c : {Case{"unix-x64/gc_log_backtrace.txt", 2020},
                        Case{"qemu-microbit/gc_log_backtrace.txt", 496}}) {
    TimelineOptions o;
    o.heap_blocks = c.heap_blocks;
    auto t = timeline_of(c.rel, o);
    ASSERT_TRUE(t) << t.error().message();
    ASSERT_EQ(t->heap_blocks, c.heap_blocks);
    for (const TimelinePoint& p : t->points) {
      ASSERT_EQ(p.free_blocks + p.live_blocks, c.heap_blocks) << c.rel << " event " << p.event;
      ASSERT_LE(p.largest_free_run, p.free_blocks);
    }
    // The largest run at the end, scanned from the replay's live allocations.
    auto input = io::LineReader::open(data_path(c.rel));
    ASSERT_TRUE(input);
    auto live = live_allocations_at(**input, std::nullopt);
    ASSERT_TRUE(live);
    std::vector<bool> used(c.heap_blocks, false);
    for (const auto& [start, a] : live->live)
      for (std::uint64_t b = start; b < start + a.size; ++b) used[b] = true;
    EXPECT_EQ(t->points.back().largest_free_run, largest_free_scan(used)) << c.rel;
    ASSERT_TRUE(t->min_largest_free_run);
    EXPECT_LE(*t->min_largest_free_run, t->points.back().largest_free_run);
  }
  // The unix peak (2014 live blocks) leaves 6 of 2020 free.
  TimelineOptions o;
  o.heap_blocks = 2020;
  auto t = timeline_of("unix-x64/gc_log_backtrace.txt", o);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->points[t->peak_event].free_blocks, 6u);
}

TEST(TimelineFixture, DecimationKeepsPeaksAndTheLastEvent) {
  CollectionList collections;
  TraceResult r = analyze("unix-x64/gc_log_backtrace.txt", &collections);
  TimelineOptions o;
  o.max_points = 64;
  o.heap_blocks = 2020;
  auto t = timeline_of("unix-x64/gc_log_backtrace.txt", o);
  ASSERT_TRUE(t) << t.error().message();
  TimelineOptions all;
  all.heap_blocks = 2020;
  auto full = timeline_of("unix-x64/gc_log_backtrace.txt", all);
  ASSERT_TRUE(full);
  EXPECT_TRUE(t->decimated);
  EXPECT_LE(t->points.size(), 64u);
  EXPECT_GE(t->points.size(), 16u);
  EXPECT_TRUE(std::is_sorted(t->points.begin(), t->points.end(),
                             [](auto& a, auto& b) { return a.event < b.event; }));
  EXPECT_EQ(t->points.back().event, 1200u);
  EXPECT_EQ(t->points.back().live_blocks, 396u);
  std::uint64_t max_live = 0, min_run = UINT64_MAX;
  for (const TimelinePoint& p : t->points) {
    max_live = std::max(max_live, p.live_blocks);
    min_run = std::min(min_run, p.largest_free_run);
    // Every kept point is the real state at its event.
    const TimelinePoint& f = full->points[p.event];
    EXPECT_EQ(p.live_blocks, f.live_blocks);
    EXPECT_EQ(p.largest_free_run, f.largest_free_run);
  }
  EXPECT_EQ(max_live, r.summary.peak_live_blocks);
  EXPECT_EQ(min_run, *full->min_largest_free_run);
  // Every collection is marked on the first kept point at or after its first sweep.
  for (const Collection& c : collections.all) {
    if (c.trailing) continue;
    auto it = std::lower_bound(t->points.begin(), t->points.end(), c.first_event,
                               [](const TimelinePoint& p, std::uint64_t e) { return p.event < e; });
    ASSERT_NE(it, t->points.end());
    EXPECT_TRUE(it->collection) << "collection " << c.index;
  }
  EXPECT_EQ(t->collections, 5u);
}

TEST(TimelineBadInput, HeapTooSmallIsAnErrorNotACrash) {
  TimelineOptions o;
  o.heap_blocks = 100;  // the log uses blocks up to ~2000
  auto t = timeline_of("unix-x64/gc_log_backtrace.txt", o);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().what.find("do not fit in a heap of 100 blocks"), std::string::npos)
      << t.error().message();
  EXPECT_GT(t.error().line, 0u);
}

TEST(TimelineBadInput, NotALog) {
  auto reader = io::LineReader::from_memory("hello\nworld\n", "x.log");
  auto t = compute_timeline(*reader, {});
  EXPECT_FALSE(t);
}

}  // namespace
}  // namespace mpheap::trace
