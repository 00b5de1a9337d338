// The HTML report: the data it embeds agrees with the trace analysis, the page is one
// self-contained file, and `mpheap report` fails with one message on bad input.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_runner.h"
#include "mpheap/report/html_report.h"
#include "mpheap/session/trace_session.h"
#include "report/page_data.h"
#include "trace/test_util.h"

namespace mpheap::report {
namespace {

using mpheap::testing::allocations;
using mpheap::testing::data_path;
using mpheap::testing::embedded_data;
using mpheap::testing::PageAllocations;
using mpheap::testing::read_file;
using mpheap::testing::run_mpheap;
using mpheap::testing::u32s;

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("mpheap_report_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

TEST(ReportHtml, Base64) {
  EXPECT_EQ(base64("", 0), "");
  EXPECT_EQ(base64("f", 1), "Zg==");
  EXPECT_EQ(base64("fo", 2), "Zm8=");
  EXPECT_EQ(base64("foo", 3), "Zm9v");
  EXPECT_EQ(base64("foobar", 6), "Zm9vYmFy");
  const unsigned char high[] = {0xff, 0xfe, 0x00, 0x80};
  EXPECT_EQ(base64(high, 4), "//4AgA==");
}

TEST(ReportHtml, TraceDataAgreesWithTheAnalysis) {
  // unix-x64 backtrace log: 1201 events, 396 blocks in 72 allocations live at the end, peak 2014.
  auto log = io::LineReader::open(data_path("unix-x64/gc_log_backtrace.txt"));
  ASSERT_TRUE(log);
  auto d = session::trace_report(**log, {});
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->result.summary.events, 1201u);
  std::uint64_t live = 0, live_count = 0;
  for (const TraceAllocation& a : d->allocations)
    if (a.live) {
      live += a.size;
      ++live_count;
    }
  EXPECT_EQ(live, 396u);
  EXPECT_EQ(live_count, 72u);
  ASSERT_FALSE(d->timeline.points.empty());
  EXPECT_EQ(d->timeline.points.back().live_blocks, 396u);
  EXPECT_EQ(d->timeline.peak_live_blocks, 2014u);

  HtmlReportInput in;
  in.title = "backtrace";
  in.trace = &*d;
  in.block_size = d->result.summary.block_size;
  auto j = nlohmann::json::parse(html_report_data_json(in));
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["block_size"], 32);
  const auto& t = j["trace"];
  EXPECT_EQ(t["events"], 1201);
  EXPECT_EQ(t["summary"]["peak_live_blocks"], 2014);
  EXPECT_EQ(t["summary"]["peak_event"], 740);
  EXPECT_TRUE(t["heap_blocks"].is_null());
  EXPECT_EQ(t["alloc"]["count"], d->allocations.size());
  // Live blocks after event K, from the embedded columns as the page computes them.
  PageAllocations a = allocations(t["alloc"]);
  const auto &size = a.size, &t0 = a.start_time, &t1 = a.end_time;
  ASSERT_EQ(size.size(), d->allocations.size());
  ASSERT_EQ(t0.size(), d->allocations.size());
  ASSERT_EQ(a.stack.size(), d->allocations.size());
  // Every allocation as the analysis has it, how it ended included.
  for (std::size_t i = 0; i < d->allocations.size(); ++i) {
    const TraceAllocation& x = d->allocations[i];
    ASSERT_EQ(a.start_block[i], x.start_block) << i;
    ASSERT_EQ(size[i], x.size) << i;
    ASSERT_EQ(t0[i], x.start_time) << i;
    ASSERT_EQ(t1[i], x.end_time) << i;
    ASSERT_EQ(a.stack[i], x.stack) << i;
    ASSERT_EQ(a.end[i], x.live ? 4u : static_cast<std::uint64_t>(x.cause)) << i;
  }
  auto live_after = [&](std::uint64_t k) {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < size.size(); ++i)
      if (t0[i] <= k && k < t1[i]) n += size[i];
    return n;
  };
  EXPECT_EQ(live_after(740), 2014u);
  EXPECT_EQ(live_after(1200), 396u);
  EXPECT_EQ(live_after(500), 147u);  // mpheap trace --at 500 --json: total_blocks 147
  EXPECT_EQ(u32s(t["stack_parent"]).size(), d->result.stacks.stack_count());
  EXPECT_EQ(t["frames"].size(), d->result.stacks.frame_count());
}

TEST(ReportHtml, PageIsSelfContainedAndEscapesText) {
  std::string log =
      "\nBreakpoint 1, gc_log_change (start_block=1, length=2) at py/gc.c:1\n"
      "#1  0x00000100 in gc_alloc (n=1) at py/gc.c:2\n"
      "#2  0x00000200 in f</script><script>alert(1)</script> () at a.c:3\n"
      "$1 = 1\n$2 = 2\n";
  std::string path = temp_path("script.log");
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(log.data(), 1, log.size(), f);
    std::fclose(f);
  }
  auto reader = io::LineReader::open(path);
  ASSERT_TRUE(reader);
  auto d = session::trace_report(**reader, {});
  std::filesystem::remove(path);
  ASSERT_TRUE(d) << d.error().message();
  HtmlReportInput in;
  in.title = "<b>&\"title\"";
  in.trace = &*d;
  std::string page = html_report(in);
  EXPECT_EQ(page.find("@MPHEAP_"), std::string::npos) << "a template marker was not filled";
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_EQ(page.find(" src="), std::string::npos);
  EXPECT_EQ(page.find("<link"), std::string::npos);
  EXPECT_NE(page.find("<title>mpheap report: &lt;b&gt;&amp;&quot;title&quot;</title>"),
            std::string::npos);
  // Exactly the page's own two scripts: the frame name cannot close or open one.
  std::size_t scripts = 0;
  for (auto at = page.find("<script"); at != std::string::npos; at = page.find("<script", at + 1))
    ++scripts;
  EXPECT_EQ(scripts, 2u);
  auto j = embedded_data(page);
  EXPECT_EQ(j["title"], "<b>&\"title\"");
  EXPECT_EQ(j["trace"]["frames"][1], "f</script><script>alert(1)</script>\ta.c:3");
}

TEST(ReportCli, WritesTraceAndSnapshotReport) {
  std::string out = temp_path("cli.html");
  std::string dir = data_path("qemu-microbit");
  auto r = run_mpheap("report " + dir + "/gc_log_backtrace.txt --heap " + dir +
                          "/snap1_ram.bin@0x20000000 --map " + dir + "/firmware.map --nm " + dir +
                          "/firmware.nm -o " + out,
                      true);
  EXPECT_EQ(r.status, 0) << r.out;
  std::string page = read_file(out);
  std::filesystem::remove(out);
  ASSERT_FALSE(page.empty());
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  auto j = embedded_data(page);
  EXPECT_EQ(j["trace"]["events"], 1471);  // 1486 stops, 15 repeated by QEMU's gdbstub
  EXPECT_EQ(j["trace"]["summary"]["live_blocks_end"], 98);
  EXPECT_EQ(j["trace"]["heap_blocks"], 496);  // from the dump's heap area
  ASSERT_EQ(j["snapshots"]["list"].size(), 1u);
  const auto& s = j["snapshots"]["list"][0];
  EXPECT_EQ(s["totals"]["used"], 1424);  // the firmware's mem_info: used 1424
  EXPECT_EQ(s["largest_free_run"], 398);
  EXPECT_EQ(s["objects"]["count"], 42);  // 42 heads
}

TEST(ReportCli, BadInputOneMessageNonZeroExit) {
  std::string out = temp_path("bad.html");
  auto one_line = [](const std::string& s) {
    return !s.empty() && s.find('\n') == s.size() - 1 && s.rfind("mpheap report: ", 0) == 0;
  };
  auto r = run_mpheap("report -o " + out, true);
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(one_line(r.out)) << r.out;
  r = run_mpheap("report /nonexistent/log.txt -o " + out, true);
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(one_line(r.out)) << r.out;
  r = run_mpheap("report " + data_path("README.md") + " -o " + out, true);  // no hook stops
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(one_line(r.out)) << r.out;
  r = run_mpheap("report --heap " + data_path("qemu-microbit/snap1_ram.bin") + "@zz -o " + out,
                 true);
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(one_line(r.out)) << r.out;
  r = run_mpheap("report " + data_path("unix-x64/gc_log_pup.txt") + " -o /nonexistent/dir/r.html",
                 true);
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(one_line(r.out)) << r.out;
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace mpheap::report
