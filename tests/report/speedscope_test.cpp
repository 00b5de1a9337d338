// speedscope export: the file parses, follows the sampled-profile shape, and its weights add up
// to the trace's live (or allocated) blocks.
#include "mpheap/report/speedscope.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "trace/test_util.h"

namespace mpheap::report {
namespace {

using mpheap::testing::data_path;
using nlohmann::json;

trace::TraceResult analyze(const std::string& rel, trace::TraceOptions o = {}) {
  auto input = io::LineReader::open(data_path(rel));
  EXPECT_TRUE(input);
  auto r = trace::analyze_trace(**input, o, nullptr);
  EXPECT_TRUE(r);
  return std::move(*r);
}

std::uint64_t total_weight(const json& profile) {
  std::uint64_t sum = 0;
  for (const auto& w : profile["weights"]) sum += w.get<std::uint64_t>();
  return sum;
}

// The shape speedscope's schema asks of a sampled profile.
void check_shape(const json& j) {
  EXPECT_EQ(j["$schema"], "https://www.speedscope.app/file-format-schema.json");
  ASSERT_EQ(j["profiles"].size(), 1u);
  const json& p = j["profiles"][0];
  EXPECT_EQ(p["type"], "sampled");
  EXPECT_EQ(p["startValue"], 0);
  EXPECT_EQ(p["endValue"].get<std::uint64_t>(), total_weight(p));
  ASSERT_EQ(p["samples"].size(), p["weights"].size());
  std::size_t frames = j["shared"]["frames"].size();
  for (const auto& s : p["samples"]) {
    EXPECT_FALSE(s.empty());
    for (const auto& f : s) EXPECT_LT(f.get<std::size_t>(), frames);
  }
  for (const auto& f : j["shared"]["frames"]) EXPECT_TRUE(f["name"].is_string());
}

TEST(Speedscope, LiveBlocksOfTheUnixLog) {
  trace::TraceResult r = analyze("unix-x64/gc_log_backtrace.txt");
  auto tree = trace::build_call_tree(r.stacks, std::span<const std::int64_t>(r.live_by_stack));
  json j = json::parse(speedscope_json(tree, {"live blocks", std::nullopt, "mpheap"}));
  check_shape(j);
  const json& p = j["profiles"][0];
  EXPECT_EQ(p["unit"], "none");
  EXPECT_EQ(p["name"], "live blocks (blocks)");
  EXPECT_EQ(total_weight(p), 396u);  // README: 396 blocks live at the end
  EXPECT_EQ(total_weight(p), r.summary.live_blocks_end);

  json bytes = json::parse(speedscope_json(tree, {"live", 32, "mpheap"}));
  EXPECT_EQ(bytes["profiles"][0]["unit"], "bytes");
  EXPECT_EQ(total_weight(bytes["profiles"][0]), 396u * 32);

  auto allocated =
      trace::build_call_tree(r.stacks, std::span<const std::uint64_t>(r.allocated_by_stack));
  json a = json::parse(speedscope_json(allocated, {"allocated", std::nullopt, "mpheap"}));
  check_shape(a);
  EXPECT_EQ(total_weight(a["profiles"][0]), allocated.total_blocks);
  EXPECT_GT(allocated.total_blocks, r.summary.peak_live_blocks);
}

TEST(Speedscope, SamplesAreTheFoldedPaths) {
  std::string log =
      "\nBreakpoint 1, gc_log_change (start_block=1, length=2) at py/gc.c:1\n"
      "#1  0x00000100 in gc_alloc (n=1) at ../../py/gc.c:2\n"
      "#2  0x00000300 in list_new (n=1) at ../../py/objlist.c:477\n"
      "#3  0x00000400 in main () at main.c:50\n"
      "$1 = 1\n$2 = 2\n"
      "\nBreakpoint 1, gc_log_change (start_block=3, length=1) at py/gc.c:1\n"
      "#1  0x00000100 in gc_alloc (n=1) at ../../py/gc.c:2\n"
      "$3 = 3\n$4 = 1\n"
      "\nBreakpoint 1, gc_log_change (start_block=4, length=1) at py/gc.c:1\n"
      "#1  0x00000100 in gc_alloc (n=1) at ../../py/gc.c:2\n"
      "#2  0x00000500 in caf\xe9 () at ??\n"
      "$5 = 4\n$6 = 1\n";
  auto r = mpheap::testing::analyze_text(log);
  ASSERT_TRUE(r) << r.error().message();
  auto tree = trace::build_call_tree(r->stacks, std::span<const std::int64_t>(r->live_by_stack));
  json j = json::parse(speedscope_json(tree, {"t", std::nullopt, "mpheap"}));
  check_shape(j);
  const json& frames = j["shared"]["frames"];
  const json& p = j["profiles"][0];
  std::map<std::string, std::uint64_t> by_path;
  for (std::size_t i = 0; i < p["samples"].size(); ++i) {
    std::string path;
    for (const auto& f : p["samples"][i])
      path += (path.empty() ? "" : ";") + frames[f.get<std::size_t>()]["name"].get<std::string>();
    by_path[path] += p["weights"][i].get<std::uint64_t>();
  }
  EXPECT_EQ(by_path, (std::map<std::string, std::uint64_t>{
                         {"main;list_new", 2}, {"[no stack]", 1}, {"caf\xef\xbf\xbd", 1}}));
  // "file:line" splits into file and line; "??" stays a file.
  for (const auto& f : frames) {
    if (f["name"] == "list_new") {
      EXPECT_EQ(f["file"], "../../py/objlist.c");
      EXPECT_EQ(f["line"], 477);
    }
    if (f["name"] == "caf\xef\xbf\xbd") {
      EXPECT_EQ(f["file"], "??");
      EXPECT_FALSE(f.contains("line"));
    }
  }
}

TEST(Speedscope, CliLiveAtAndAllocated) {
  std::string out = "/tmp/mpheap_ss_" + std::to_string(::getpid()) + ".json";
  std::string log = data_path("unix-x64/gc_log_backtrace.txt");
  auto run = mpheap::testing::run_mpheap("trace " + log + " -q --speedscope " + out, true);
  ASSERT_EQ(run.status, 0) << run.out;
  json j = json::parse(mpheap::testing::read_file(out));
  check_shape(j);
  EXPECT_EQ(total_weight(j["profiles"][0]), 396u);  // block size not given: blocks

  run = mpheap::testing::run_mpheap(
      "trace " + log + " -q --block-size 32 --at 500 --speedscope " + out, true);
  ASSERT_EQ(run.status, 0) << run.out;
  trace::TraceOptions at;
  at.at_event = 500;
  trace::TraceResult r = analyze("unix-x64/gc_log_backtrace.txt", at);
  auto tree = trace::build_call_tree(r.stacks, std::span<const std::int64_t>(r.live_by_stack));
  j = json::parse(mpheap::testing::read_file(out));
  EXPECT_EQ(j["profiles"][0]["unit"], "bytes");
  EXPECT_EQ(total_weight(j["profiles"][0]), tree.total_blocks * 32);

  run = mpheap::testing::run_mpheap(
      "trace " + log + " -q --speedscope " + out + " --speedscope-weight allocated", true);
  ASSERT_EQ(run.status, 0) << run.out;
  j = json::parse(mpheap::testing::read_file(out));
  auto allocated =
      trace::build_call_tree(r.stacks, std::span<const std::uint64_t>(r.allocated_by_stack));
  EXPECT_EQ(total_weight(j["profiles"][0]), allocated.total_blocks);
  std::remove(out.c_str());

  auto bad = mpheap::testing::run_mpheap(
      "trace " + log + " -q --speedscope " + out + " --speedscope-weight peak", true);
  EXPECT_NE(bad.status, 0);
}

}  // namespace
}  // namespace mpheap::report
