// Perfetto / Chrome trace-event export: counters end at the trace's live figures, one instant
// per collection, one slice per allocation, and slices on one track never overlap.
#include "mpheap/report/perfetto.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "mpheap/session/trace_session.h"
#include "trace/test_util.h"

namespace mpheap::report {
namespace {

using mpheap::testing::data_path;
using nlohmann::json;

std::string tmp_path(const char* ext) {
  return "/tmp/mpheap_pf_" + std::to_string(::getpid()) + ext;
}

Expected<PerfettoStats> export_to(const std::string& rel, const PerfettoOptions& o,
                                  const std::string& path) {
  auto input = io::LineReader::open(data_path(rel));
  if (!input) return input.error();
  auto out = Output::open(path);
  if (!out) return out.error();
  auto stats = session::write_perfetto(**input, "gc_log_change", o, **out);
  if (auto closed = (*out)->close(); !closed) return closed.error();
  return stats;
}

trace::TraceResult analyze(const std::string& rel) {
  auto input = io::LineReader::open(data_path(rel));
  EXPECT_TRUE(input);
  auto r = trace::analyze_trace(**input, {}, nullptr);
  EXPECT_TRUE(r);
  return std::move(*r);
}

std::uint64_t collections_of(const trace::TraceResult& r) {
  return r.collections;
}

struct Read {
  std::map<std::string, std::vector<std::pair<std::uint64_t, std::uint64_t>>> counters;
  std::vector<json> instants, slices;
};

Read read_events(const json& j) {
  Read r;
  for (const json& e : j["traceEvents"]) {
    std::string ph = e["ph"];
    if (ph == "C") {
      EXPECT_EQ(e["args"].size(), 1u);
      r.counters[e["name"]].emplace_back(e["ts"].get<std::uint64_t>(),
                                         e["args"].begin()->get<std::uint64_t>());
    } else if (ph == "i") {
      r.instants.push_back(e);
    } else if (ph == "X") {
      r.slices.push_back(e);
    } else {
      EXPECT_EQ(ph, "M");
    }
  }
  return r;
}

TEST(Perfetto, UnixLogWithHeapSizeAndSlices) {
  trace::TraceResult r = analyze("unix-x64/gc_log_backtrace.txt");
  PerfettoOptions o;
  o.heap_blocks = 2020;  // 64640 bytes / 32 (the firmware's mem_info)
  o.block_size = 32;
  o.slices = true;
  std::string path = tmp_path(".json");
  auto stats = export_to("unix-x64/gc_log_backtrace.txt", o, path);
  ASSERT_TRUE(stats) << stats.error().message();
  json j = json::parse(mpheap::testing::read_file(path));
  std::remove(path.c_str());
  EXPECT_EQ(j["otherData"]["unit"], "bytes");
  EXPECT_EQ(j["otherData"]["version"], kPerfettoVersion);
  Read ev = read_events(j);

  const auto& used = ev.counters["VM Heap Used"];
  ASSERT_FALSE(used.empty());
  EXPECT_EQ(used.back().second, 396u * 32);  // README: 396 blocks live at the end
  std::uint64_t max = 0;
  for (const auto& [ts, v] : used) max = std::max(max, v);
  EXPECT_EQ(max, r.summary.peak_live_blocks * 32);  // 2014 blocks
  EXPECT_EQ(ev.counters["VM Heap Free"].back().second, (2020u - 396) * 32);
  EXPECT_LE(ev.counters["VM Heap Largest Free Run"].back().second, (2020u - 396) * 32);
  EXPECT_GT(ev.counters["VM Heap Largest Free Run"].back().second, 0u);

  EXPECT_EQ(ev.instants.size(), collections_of(r));  // 5 collections
  EXPECT_EQ(ev.instants.size(), 5u);
  EXPECT_EQ(stats->collections, 5u);
  std::uint64_t freed = 0;
  for (const json& i : ev.instants) freed += i["args"]["objects_freed"].get<std::uint64_t>();
  EXPECT_EQ(freed, 490u);  // every sweep frees one object

  // One slice per allocation started (alloc + realloc); the still-live ones end with the trace.
  using trace::EventKind;
  EXPECT_EQ(ev.slices.size(), mpheap::testing::kind(r.summary, EventKind::alloc) +
                                  mpheap::testing::kind(r.summary, EventKind::realloc));
  std::uint64_t live_at_end = 0;
  std::map<std::uint64_t, std::vector<std::pair<std::uint64_t, std::uint64_t>>> by_tid;
  for (const json& s : ev.slices) {
    if (s["args"]["end"] == "live") {
      ++live_at_end;
      EXPECT_EQ(s["ts"].get<std::uint64_t>() + s["dur"].get<std::uint64_t>(), r.summary.events);
    }
    by_tid[s["tid"]].emplace_back(s["ts"],
                                  s["ts"].get<std::uint64_t>() + s["dur"].get<std::uint64_t>());
  }
  EXPECT_EQ(live_at_end, r.summary.live_allocations_end);  // 72
  EXPECT_EQ(stats->lanes, by_tid.size());
  for (auto& [tid, v] : by_tid) {
    std::sort(v.begin(), v.end());
    for (std::size_t i = 1; i < v.size(); ++i)
      EXPECT_LE(v[i - 1].second, v[i].first) << "overlapping slices on track " << tid;
  }
}

TEST(Perfetto, WithoutHeapSizeOnlyUsedIsCounted) {
  for (const char* rel :
       {"qemu-microbit/gc_log_ram.txt", "circuitpython-unix/gc_log_cpstyle.txt"}) {
    trace::TraceResult r = analyze(rel);
    std::string path = tmp_path(".json");
    auto stats = export_to(rel, PerfettoOptions{}, path);
    ASSERT_TRUE(stats) << stats.error().message();
    json j = json::parse(mpheap::testing::read_file(path));
    std::remove(path.c_str());
    Read ev = read_events(j);
    EXPECT_EQ(j["otherData"]["unit"], "blocks");
    EXPECT_EQ(ev.counters.size(), 1u) << rel;
    EXPECT_EQ(ev.counters["VM Heap Used"].back().second, r.summary.live_blocks_end) << rel;
    EXPECT_EQ(ev.instants.size(), collections_of(r)) << rel;
    EXPECT_TRUE(ev.slices.empty());
    EXPECT_EQ(stats->events, r.summary.events);
  }
}

TEST(Perfetto, BadInput) {
  PerfettoOptions o;
  o.heap_blocks = 50;
  std::string path = tmp_path(".json");
  auto stats = export_to("unix-x64/gc_log_backtrace.txt", o, path);
  std::remove(path.c_str());
  ASSERT_FALSE(stats);
  EXPECT_NE(stats.error().what.find("heap of 50 blocks"), std::string::npos);

  std::string log = data_path("unix-x64/gc_log_backtrace.txt");
  auto small =
      mpheap::testing::run_mpheap("trace " + log + " -q --heap-blocks 50 --perfetto " + path, true);
  EXPECT_EQ(small.status, 1);
  EXPECT_NE(small.out.find("heap of 50 blocks"), std::string::npos) << small.out;
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "a failed export leaves no file behind";

  // The export rides on the one replay, so standard input works as a file does.
  auto from_file = mpheap::testing::run_mpheap("trace " + log + " -q --perfetto " + path, true);
  ASSERT_EQ(from_file.status, 0) << from_file.out;
  std::string file_json = mpheap::testing::read_file(path);
  auto stdin_log = mpheap::testing::run_mpheap("trace - -q --perfetto " + path + " < " + log, true);
  ASSERT_EQ(stdin_log.status, 0) << stdin_log.out;
  std::string stdin_json = mpheap::testing::read_file(path);
  std::remove(path.c_str());
  // Equal but for the source's name.
  EXPECT_EQ(json::parse(stdin_json)["traceEvents"], json::parse(file_json)["traceEvents"]);
  EXPECT_EQ(json::parse(stdin_json)["otherData"]["source"], "<stdin>");

  auto zero = mpheap::testing::run_mpheap("trace " + log + " -q --heap-blocks 0", true);
  EXPECT_NE(zero.status, 0);
}

TEST(Perfetto, CliMatchesTheSummary) {
  std::string path = tmp_path(".json");
  std::string summary = tmp_path(".summary.json");
  std::string log = data_path("unix-x64/gc_log_backtrace.txt");
  auto run = mpheap::testing::run_mpheap("trace " + log +
                                             " -q --block-size 32 --heap-blocks 2020 "
                                             "--perfetto " +
                                             path + " --perfetto-slices --summary-json " + summary,
                                         true);
  ASSERT_EQ(run.status, 0) << run.out;
  json j = json::parse(mpheap::testing::read_file(path));
  json s = json::parse(mpheap::testing::read_file(summary));
  std::remove(path.c_str());
  std::remove(summary.c_str());
  Read ev = read_events(j);
  EXPECT_EQ(ev.counters["VM Heap Used"].back().second,
            s["live_blocks_end"].get<std::uint64_t>() * 32);
  EXPECT_EQ(ev.instants.size(), 5u);
  EXPECT_FALSE(ev.slices.empty());
}

}  // namespace
}  // namespace mpheap::report
