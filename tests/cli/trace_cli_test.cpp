// The `mpheap trace` executable: outputs, exit status and the one-line error on bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_runner.h"
#include "trace/test_util.h"

namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

using mpheap::testing::CliRun;

// `mpheap trace ARGS`.
CliRun run(const std::string& args, bool merge_stderr = false) {
  return mpheap::testing::run_mpheap("trace " + args, merge_stderr);
}

std::string temp_path(const std::string& name) {
  return "/tmp/mpheap_cli_" + std::to_string(::getpid()) + "_" + name;
}

TEST(TraceCli, DefaultPrintsSummaryAndTree) {
  CliRun r = run(data_path("unix-x64/gc_log_pup.txt"));
  ASSERT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("317 hook calls: alloc 162, free 83, sweep 9, realloc 63"),
            std::string::npos);
  EXPECT_NE(r.out.find("70 allocations, 137 blocks = 4384 bytes"), std::string::npos);
  EXPECT_NE(r.out.find("\n137 total blocks\n"), std::string::npos);
}

TEST(TraceCli, SummaryJsonHasTheDocumentedKeys) {
  std::string path = temp_path("summary.json");
  CliRun r = run(data_path("qemu-microbit/gc_log_pup.txt") + " --summary-json " + path + " -q");
  ASSERT_EQ(r.status, 0);
  auto j = nlohmann::json::parse(read_file(path));
  std::remove(path.c_str());
  EXPECT_EQ(j["events"], 1471);
  EXPECT_EQ(j["duplicates"], 19);
  EXPECT_EQ(j["kinds"]["alloc"], 759);
  EXPECT_EQ(j["kinds"]["free"], 61);
  EXPECT_EQ(j["kinds"]["sweep"], 650);
  EXPECT_EQ(j["kinds"]["realloc"], 1);
  EXPECT_EQ(j["unlogged"], 0);
  EXPECT_EQ(j["sweeps_logged"], true);
  EXPECT_EQ(j["live_blocks_end"], 98);
  EXPECT_EQ(j["live_bytes_end"], 98 * 16);
  EXPECT_TRUE(j["peak_live_blocks"].is_number());
  EXPECT_TRUE(j["peak_event"].is_number());
  EXPECT_TRUE(j["size_histogram"].is_object());
  EXPECT_EQ(j["incomplete_last_event"], false);
  EXPECT_EQ(j["version"], 1);
}

TEST(TraceCli, BlockSizeFromAFirmwareDescription) {
  CliRun r = run(data_path("qemu-microbit/gc_log_pup.txt") + " --no-tree --map " +
                 data_path("qemu-microbit/firmware.map"));
  ASSERT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("98 blocks = 1568 bytes (16-byte blocks, from the firmware description)"),
            std::string::npos);
  CliRun forced = run(data_path("qemu-microbit/gc_log_pup.txt") + " --no-tree --block-size 32");
  EXPECT_NE(forced.out.find("98 blocks = 3136 bytes (32-byte blocks, --block-size)"),
            std::string::npos);
}

TEST(TraceCli, NoSweepLogSaysFiguresAreUpperBounds) {
  CliRun r = run(data_path("unix-x64/gc_log_nosweep.txt") + " --collections --no-tree", true);
  ASSERT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("no sweep events in this log"), std::string::npos);
  EXPECT_NE(r.out.find("upper bounds"), std::string::npos);
  EXPECT_NE(r.out.find("collections cannot be seen in this log"), std::string::npos);
}

TEST(TraceCli, CollectionsFollowTheSummary) {
  CliRun r = run(data_path("unix-x64/gc_log_backtrace.txt") + " --collections --no-tree");
  ASSERT_EQ(r.status, 0);
  std::size_t summary = r.out.find("\ncollections  5 (");
  std::size_t first = r.out.find("\n\ncollection 1: events ");
  std::size_t last = r.out.find("\ncollection 5: events ");
  ASSERT_NE(summary, std::string::npos);
  ASSERT_NE(first, std::string::npos);
  ASSERT_NE(last, std::string::npos);
  EXPECT_LT(summary, first);
  EXPECT_LT(first, last);
  EXPECT_EQ(r.out.find("\ncollection 6:"), std::string::npos);
}

TEST(TraceCli, JsonTreeAtEvent) {
  CliRun r = run(data_path("unix-x64/gc_log_pup.txt") + " --json --at 307");
  ASSERT_EQ(r.status, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["total_blocks"], 176);
  EXPECT_EQ(j["at_event"], 307);
  ASSERT_FALSE(j["tree"].empty());
  // The p/x + up log has four caller frames; roots are sorted by location.
  EXPECT_EQ(j["tree"][0]["location"], "../../extmod/vfs_posix.c:112");
  EXPECT_EQ(j["tree"][0]["function"], "vfs_posix_make_new");
  EXPECT_EQ(j["tree"][0]["blocks"], 2);
}

TEST(TraceCli, FoldedStacksSumToLiveBlocks) {
  std::string path = temp_path("live.folded");
  CliRun r = run(data_path("unix-x64/gc_log_backtrace.txt") + " --folded " + path + " -q");
  ASSERT_EQ(r.status, 0);
  std::string folded = read_file(path);
  std::remove(path.c_str());
  std::uint64_t total = 0;
  std::size_t lines = 0;
  for (std::size_t pos = 0, nl; (nl = folded.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    std::string line = folded.substr(pos, nl - pos);
    total += std::stoull(line.substr(line.rfind(' ') + 1));
    EXPECT_EQ(line.rfind("main (main.c:452)", 0), 0u) << line;
    ++lines;
  }
  EXPECT_EQ(total, 396u);
  EXPECT_GT(lines, 10u);
}

TEST(TraceCli, BadInputGivesOneLineAndNonZeroExit) {
  CliRun missing = run("/nonexistent/log.txt", true);
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.out,
            "mpheap trace: /nonexistent/log.txt: cannot open: No such file or directory\n");
  CliRun notlog = run(data_path("unix-x64/reference_allocation_history.json"), true);
  EXPECT_EQ(notlog.status, 1);
  EXPECT_NE(notlog.out.find("expected stops of gdb at the hook"), std::string::npos);
  EXPECT_EQ(std::count(notlog.out.begin(), notlog.out.end(), '\n'), 1);
  CliRun at = run(data_path("unix-x64/gc_log_pup.txt") + " --at 5000", true);
  EXPECT_EQ(at.status, 1);
  EXPECT_NE(at.out.find("--at 5000 is past the last event: the log has 317 events"),
            std::string::npos);
  std::string history = temp_path("bad_history.json");
  CliRun bad_history =
      run(data_path("unix-x64/reference_allocation_history.json") + " --history " + history, true);
  EXPECT_EQ(bad_history.status, 1);
  EXPECT_EQ(std::fopen(history.c_str(), "rb"), nullptr);  // no partial file left behind
  CliRun usage = run("", true);
  EXPECT_NE(usage.status, 0);
}

TEST(TraceCli, CutOffLogWarnsOnStderr) {
  std::string log = read_file(data_path("unix-x64/gc_log_pup.txt"));
  std::string path = temp_path("cut.txt");
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    // Cut before the last stop's second value (its length): that stop is incomplete.
    std::size_t cut = log.find("\n$", log.rfind("\nBreakpoint 1, "));
    cut = log.find("\n$", cut + 1) + 1;
    std::fwrite(log.data(), 1, cut, f);
    std::fclose(f);
  }
  CliRun r = run(path + " --no-tree", true);
  std::remove(path.c_str());
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("the log ends inside this stop"), std::string::npos);
  EXPECT_NE(r.out.find("316 complete events kept"), std::string::npos);
}

// --python-only: the stacks of the tree and the exports name Python lines; --help explains it.
TEST(TraceCli, PythonOnlyShowsPythonFrames) {
  const std::string log = temp_path("python.log");
  {
    std::FILE* f = std::fopen(log.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::string_view text = mpheap::testing::kPythonFramesLog;
    ASSERT_EQ(std::fwrite(text.data(), 1, text.size(), f), text.size());
    std::fclose(f);
  }
  CliRun mixed = run(log);
  CliRun python = run(log + " --python-only");
  CliRun json = run(log + " --python-only --json");
  std::remove(log.c_str());
  ASSERT_EQ(mixed.status, 0);
  ASSERT_EQ(python.status, 0);
  ASSERT_EQ(json.status, 0);
  EXPECT_NE(mixed.out.find("../../py/objlist.c:477 mp_obj_new_list 1 blocks"), std::string::npos)
      << mixed.out;
  EXPECT_NE(mixed.out.find("<stdin>:47 squares 1 blocks"), std::string::npos);
  EXPECT_NE(python.out.find("\nworkload.py:29 <module> 1 blocks\n  <stdin>:47 squares 1 blocks\n"),
            std::string::npos)
      << python.out;
  EXPECT_EQ(python.out.find("mp_obj_new_list"), std::string::npos);
  EXPECT_NE(python.out.find("  ../../py/map.c:95 mp_map_init 2 blocks"), std::string::npos);
  EXPECT_NE(python.out.find("sweep 1"), std::string::npos);
  auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["tree"][1]["python"], true);

  CliRun help = run("--help");
  EXPECT_NE(help.out.find("--python-only"), std::string::npos);
  EXPECT_NE(help.out.find("mpheap capture trace"), std::string::npos);
  CliRun report_help = mpheap::testing::run_mpheap("report --help");
  EXPECT_NE(report_help.out.find("--python-only"), std::string::npos);
  // No Python frames in the log: said on stderr, the output is the mixed one.
  CliRun plain = run(data_path("unix-x64/gc_log_pup.txt") + " --python-only --no-tree", true);
  ASSERT_EQ(plain.status, 0);
  EXPECT_NE(plain.out.find("warning: --python-only: the log has no Python frames"),
            std::string::npos);
}

}  // namespace
