// Presenters on awkward input: bytes that are not UTF-8 must still give valid JSON.
#include "mpheap/report/trace_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "mpheap/io/line_reader.h"
#include "mpheap/report/collections_text.h"
#include "mpheap/report/history_json.h"
#include "mpheap/report/output.h"
#include "mpheap/report/speedscope.h"
#include "trace/test_util.h"

namespace mpheap::report {
namespace {

TEST(TraceReport, NonUtf8NamesGiveValidJson) {
  std::string log =
      "\nBreakpoint 1, gc_log_change (start_block=1, length=2) at py/gc.c:1\n"
      "#1  0x00000100 in gc_alloc (n=1) at py/gc.c:2\n"
      "#2  0x00000200 in caf\xe9 () at caf\xe9.c:3\n"
      "$1 = 1\n$2 = 2\n";
  auto r = mpheap::testing::analyze_text(log);
  ASSERT_TRUE(r) << r.error().message();
  trace::CallTree tree =
      trace::build_call_tree(r->stacks, std::span<const std::int64_t>(r->live_by_stack));
  auto j = nlohmann::json::parse(call_tree_json(tree, 0, 16));
  EXPECT_EQ(j["total_blocks"], 2);
  EXPECT_EQ(j["tree"][0]["function"], "caf\xef\xbf\xbd");  // U+FFFD replaces the stray byte
  EXPECT_TRUE(nlohmann::json::accept(summary_json(*r)));
  std::string s;
  append_json_string(s, "caf\xe9 \"q\" \x01 \xc3\xa9");
  EXPECT_EQ(s, "\"caf\\u00e9 \\\"q\\\" \\u0001 \xc3\xa9\"");
}

TEST(TraceReport, TreeTextLayout) {
  std::string log =
      "\nBreakpoint 1, gc_log_change (start_block=1, length=2) at py/gc.c:1\n"
      "#1  0x00000100 in gc_alloc (n=1) at ../../py/gc.c:2\n"
      "#2  0x00000200 in m_malloc (n=1) at ../../py/malloc.c:86\n"
      "#3  0x00000300 in list_new (n=1) at ../../py/objlist.c:477\n"
      "#4  0x00000400 in main () at main.c:50\n"
      "$1 = 1\n$2 = 2\n"
      "\nBreakpoint 1, gc_log_change (start_block=3, length=1) at py/gc.c:1\n"
      "#1  0x00000100 in gc_alloc (n=1) at ../../py/gc.c:2\n"
      "#2  0x00000500 in main () at main.c:40\n"
      "$3 = 3\n$4 = 1\n";
  auto r = mpheap::testing::analyze_text(log);
  ASSERT_TRUE(r) << r.error().message();
  trace::CallTree tree =
      trace::build_call_tree(r->stacks, std::span<const std::int64_t>(r->live_by_stack));
  EXPECT_EQ(call_tree_text(tree),
            "main.c:40 main 1 blocks\n"
            "main.c:50 main 2 blocks\n"
            "  ../../py/objlist.c:477 list_new 2 blocks\n"
            "3 total blocks\n");
  EXPECT_EQ(folded_stacks(tree),
            "main (main.c:40) 1\n"
            "main (main.c:50);list_new (../../py/objlist.c:477) 2\n");
}

// The --collections text held back (and spilled to a temporary file past `hold_bytes`) is the
// text of every collection the analysis handed on, in order.
std::string collections_of(const std::string& rel, std::size_t hold_bytes, bool* spilled) {
  CollectionsText text(3, hold_bytes);
  trace::TraceOptions o;
  o.collection_sink = &text;
  auto input = io::LineReader::open(mpheap::testing::data_path(rel));
  EXPECT_TRUE(input);
  EXPECT_TRUE(trace::analyze_trace(**input, o, nullptr));
  *spilled = text.spilled();
  std::string out;
  EXPECT_TRUE(text.write_to([&](std::string_view s) { out += s; }));
  return out;
}

TEST(TraceReport, CollectionsTextHeldOrSpilledIsEveryCollection) {
  const std::string rel = "unix-x64/gc_log_backtrace.txt";
  trace::CollectionList list;
  trace::TraceOptions o;
  o.collection_sink = &list;
  auto input = io::LineReader::open(mpheap::testing::data_path(rel));
  ASSERT_TRUE(input);
  auto r = trace::analyze_trace(**input, o, nullptr);
  ASSERT_TRUE(r);
  std::string expected;
  std::size_t collections = 0;
  for (const trace::Collection& c : list.all) {
    expected += collection_text(c, r->stacks, 3);
    collections += c.trailing ? 0 : 1;
  }
  EXPECT_EQ(collections, 5u);  // the fixture README's 5 GC cycles
  EXPECT_EQ(r->collections, 5u);
  EXPECT_NE(expected.find("collection 5: events "), std::string::npos);
  EXPECT_NE(expected.find("  sizes: "), std::string::npos);
  bool spilled = true;
  EXPECT_EQ(collections_of(rel, 1 << 20, &spilled), expected);
  EXPECT_FALSE(spilled);
  EXPECT_EQ(collections_of(rel, 1, &spilled), expected);
  EXPECT_TRUE(spilled);
}

// Python frames print like C frames, carry "python": true where frames are JSON objects, and
// never show an address of their own.
TEST(TraceReport, PythonFramesInTreesHistoryAndSummary) {
  trace::TraceOptions po;
  po.frame_view = trace::FrameView::python_only;
  const std::string path = "/tmp/mpheap_test_py_history_" + std::to_string(::getpid()) + ".json";
  Expected<trace::TraceResult> r = Error{};
  {
    auto out = Output::open(path);
    ASSERT_TRUE(out);
    HistoryJsonWriter writer(**out);
    r = mpheap::testing::analyze_text(mpheap::testing::kPythonFramesLog, po, &writer);
    ASSERT_TRUE(r) << r.error().message();
    writer.finish();
    ASSERT_TRUE((*out)->close());
  }
  auto history = nlohmann::json::parse(mpheap::testing::read_file(path));
  std::remove(path.c_str());
  // Block 2 (the tuple) was freed first: its stack is squares <- <module>.
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history[0]["start_block"], 2);
  EXPECT_EQ(history[0]["start_trace"], nlohmann::json::parse(R"([["[py]", "<stdin>:47", "squares"],
                                       ["[py]", "workload.py:29", "<module>"]])"));
  EXPECT_EQ(history[0]["end_trace"],
            nlohmann::json::parse(R"([["[py]", "workload.py:31", "<module>"]])"));

  trace::CallTree tree =
      trace::build_call_tree(r->stacks, std::span<const std::int64_t>(r->live_by_stack));
  EXPECT_EQ(call_tree_text(tree),
            "micropython/ports/unix/main.c:496 main_ 2 blocks\n"
            "  ../../py/map.c:95 mp_map_init 2 blocks\n"
            "workload.py:29 <module> 1 blocks\n"
            "  <stdin>:47 squares 1 blocks\n"
            "3 total blocks\n");
  EXPECT_EQ(folded_stacks(tree),
            "main_ (micropython/ports/unix/main.c:496);mp_map_init (../../py/map.c:95) 2\n"
            "<module> (workload.py:29);squares (<stdin>:47) 1\n");
  // speedscope: name, file and line as for a C frame, and nothing else.
  auto ss = nlohmann::json::parse(speedscope_json(tree, SpeedscopeOptions{}));
  bool squares_seen = false;
  for (const auto& f : ss["shared"]["frames"]) {
    if (f["name"] != "squares") continue;
    squares_seen = true;
    EXPECT_EQ(f, nlohmann::json::parse(R"({"name": "squares", "file": "<stdin>", "line": 47})"));
  }
  EXPECT_TRUE(squares_seen);
  auto j = nlohmann::json::parse(call_tree_json(tree, r->tree_event, 32));
  ASSERT_EQ(j["tree"].size(), 2u);
  EXPECT_FALSE(j["tree"][0].contains("python"));  // C frames: no key
  EXPECT_EQ(j["tree"][1]["function"], "<module>");
  EXPECT_EQ(j["tree"][1]["python"], true);
  EXPECT_EQ(j["tree"][1]["children"][0]["python"], true);

  EXPECT_NE(summary_text(r->summary, r->collections)
                .find("python       5 stops with Python frames; their stacks show only those "
                      "(--python-only)\n"),
            std::string::npos);
  auto summary = nlohmann::json::parse(summary_json(*r));
  EXPECT_EQ(summary["python_stops"], 5);
  EXPECT_EQ(summary["frame_view"], "python_only");
  EXPECT_EQ(summary_warnings(r->summary).find("--python-only"), std::string::npos);

  // A log without Python frames: the view changes nothing, and the warning says so.
  const std::string c_only =
      "\nBreakpoint 1, gc_log_change (start_block=1, length=2) at py/gc.c:1\n"
      "#1  0x00000100 in gc_alloc (n=1) at py/gc.c:2\n"
      "#2  0x00000200 in main () at main.c:3\n"
      "$1 = 1\n$2 = 2\n";
  auto plain = mpheap::testing::analyze_text(c_only);
  auto viewed = mpheap::testing::analyze_text(c_only, po);
  ASSERT_TRUE(plain && viewed);
  EXPECT_EQ(summary_warnings(plain->summary),
            "warning: no sweep events in this log (the "
            "firmware's collector does not call the hook): live "
            "figures are upper bounds; 0 allocations were ended "
            "as 'unlogged' when a later allocation reused their "
            "blocks\n");
  EXPECT_NE(summary_warnings(viewed->summary).find("--python-only: the log has no Python frames"),
            std::string::npos);
  EXPECT_EQ(summary_text(plain->summary, 0).find("python "), std::string::npos);
  EXPECT_FALSE(nlohmann::json::parse(summary_json(*plain)).contains("python_stops"));
}

}  // namespace
}  // namespace mpheap::report
