// The DOT ownership graph: label escaping, the labels the CircuitPython tool drew (str text,
// dict keys, qstr chunk strings) on the micro:bit fixture, and Graphviz accepting the output.
#include "mpheap/report/heap_dot.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "heap/snapshot_fixture.h"
#include "mpheap/target/from_map.h"
#include "mpheap/target/layout_heuristics.h"
#include "trace/test_util.h"

namespace mpheap::report {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

using Loaded = mpheap::testing::FixtureSnapshot;

Loaded load(const std::string& dir, const std::string& qstrs, const std::string& dump) {
  return mpheap::testing::load_fixture_snapshot(dir, true, qstrs, {dump});
}

// The DOT text of a fixture snapshot, typed as the CLI types it.
std::string fixture_dot(Loaded& l, const DotOptions& options = {}) {
  heap::ObjectReader r(l.t, l.ram, l.snap);
  heap::name_objects(l.snap, r, l.t);
  const heap::ObjectGraph g = heap::build_graph(l.t, l.ram, l.snap);
  return ownership_dot(l.snap, g, r, l.t, options);
}

// The line declaring the node whose label starts with `head` ("0x20000490 dict").
std::string node_line(const std::string& dot, const std::string& head) {
  const std::size_t at = dot.find("[label=\"" + head);
  if (at == std::string::npos) return "";
  const std::size_t begin = dot.rfind('\n', at) + 1;
  return dot.substr(begin, dot.find('\n', at) - begin);
}

bool have_dot() {
  return std::system("dot -V >/dev/null 2>&1") == 0;
}

// Runs `dot -Tsvg` on the text; returns the SVG, or "" with a test failure when dot rejects it.
std::string render(const std::string& dot, const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("mpheap_dot_test_" +
                    std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" + name);
  std::filesystem::create_directories(dir);
  const auto in = dir / "graph.dot", out = dir / "graph.svg", err = dir / "stderr.txt";
  std::ofstream(in, std::ios::binary) << dot;
  const std::string cmd =
      "dot -Tsvg '" + in.string() + "' -o '" + out.string() + "' 2>'" + err.string() + "'";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << read_file(err.string());
  EXPECT_EQ(read_file(err.string()), "");  // no warnings either
  std::string svg = rc == 0 ? read_file(out.string()) : "";
  std::filesystem::remove_all(dir);
  return svg;
}

TEST(HeapDot, EscapesLabelText) {
  EXPECT_EQ(dot_escape("plain"), "plain");
  EXPECT_EQ(dot_escape("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(dot_escape("C:\\dir\\"), "C:\\\\dir\\\\");  // a trailing backslash cannot eat the quote
  EXPECT_EQ(dot_escape("line1\nline2\n"), "line1\\lline2\\l");
  EXPECT_EQ(dot_escape("\\n is not a newline"), "\\\\n is not a newline");
  EXPECT_EQ(dot_escape("{a|b} <c>"), "{a|b} <c>");  // literal in plain box labels
  EXPECT_EQ(dot_escape(std::string("nul\0bel\x07", 8)), "nul\\\\x00bel\\\\x07");
  EXPECT_EQ(dot_escape("caf\xc3\xa9"), "caf\xc3\xa9");          // UTF-8 passes through
  EXPECT_EQ(dot_escape("caf\xe9 \xc3"), "caf\\\\xe9 \\\\xc3");  // stray bytes do not
}

TEST(HeapDot, EscapedLabelsRenderAsWritten) {
  if (!have_dot()) GTEST_SKIP() << "Graphviz dot is not installed";
  const std::string text = "q\"uote back\\slash {brace|bar} <angle>\nsecond";
  const std::string svg =
      render("digraph g {\n  a [shape=box, label=\"" + dot_escape(text) + "\"];\n}\n", "escape");
  EXPECT_NE(svg.find("q&quot;uote back\\slash {brace|bar} &lt;angle&gt;"), std::string::npos)
      << svg;
  EXPECT_NE(svg.find(">second<"), std::string::npos) << svg;
}

TEST(HeapDot, MicrobitLabels) {
  Loaded l = load("qemu-microbit", "qstr_static.txt", "snap2_ram.bin@0x20000000");
  const std::string dot = fixture_dot(l);
  ASSERT_TRUE(dot.starts_with("digraph heap {\n"));
  ASSERT_TRUE(dot.ends_with("}\n"));
  // GREETING str 0x20000430 shows its text; CONFIG dict 0x20000490 its keys.
  const std::string greeting = node_line(dot, "0x20000430 str");
  EXPECT_NE(greeting.find("'hello mpheap fixture'"), std::string::npos) << greeting;
  const std::string config = node_line(dot, "0x20000490 dict");
  for (const char* key : {"'alpha'", "'beta'", "'gamma'"})
    EXPECT_NE(config.find(key), std::string::npos) << config;
  // The heap qstr pool (vm.last_pool 0x200008f0) holds dyn_attr_0..2; their chunk shows them.
  EXPECT_NE(node_line(dot, "0x200008f0 qstr pool").find("qstrs 653..655"), std::string::npos);
  const std::size_t chunk = dot.find(" qstr chunk\\l");
  ASSERT_NE(chunk, std::string::npos);
  const std::string chunk_line = dot.substr(chunk, dot.find('\n', chunk) - chunk);
  EXPECT_NE(chunk_line.find("dyn_attr_0, dyn_attr_1, dyn_attr_2"), std::string::npos) << chunk_line;
  // __main__'s globals table 0x20000a30 lists the global names and hangs off its root.
  const std::string globals = node_line(dot, "0x20000a30 dict table");
  EXPECT_NE(globals.find("GREETING"), std::string::npos) << globals;
  EXPECT_NE(dot.find("[label=\"mp_state_ctx.vm.dict_main.map.table\""), std::string::npos);
  // The class and its instances (SPRITES' items) by name.
  EXPECT_NE(dot.find("[label=\"0x20000670 class Sprite\\l"), std::string::npos);
  EXPECT_NE(dot.find("[label=\"0x200006b0 Sprite\\l"), std::string::npos);
  // One node per object.
  std::size_t nodes = 0;
  for (std::size_t at = dot.find("\n  o"); at != std::string::npos; at = dot.find("\n  o", at + 1))
    if (dot.compare(dot.find(' ', at + 3), 8, " [label=") == 0) ++nodes;
  EXPECT_EQ(nodes, l.snap.objects.size());

  if (!have_dot()) GTEST_SKIP() << "Graphviz dot is not installed";
  const std::string svg = render(dot, "microbit");
  EXPECT_NE(svg.find("hello mpheap fixture"), std::string::npos);
  EXPECT_NE(svg.find("&#39;alpha&#39;"), std::string::npos);
}

TEST(HeapDot, NodeCapKeepsLargestRetained) {
  Loaded l = load("qemu-mps2-splitheap", "rom_qstrs.txt", "snap2_ram.bin@0x187454");
  DotOptions o;
  o.max_nodes = 12;
  const std::string dot = fixture_dot(l, o);
  std::size_t nodes = 0;
  for (std::size_t at = dot.find("[label=\"0x"); at != std::string::npos;
       at = dot.find("[label=\"0x", at + 1))
    ++nodes;
  EXPECT_EQ(nodes, 12u);
  EXPECT_NE(dot.find("12 of "), std::string::npos);
  // BIG's 20 KiB data (0x18e960) is the largest single allocation; BLOBS (0x187b80) retains
  // its items array and the 100 survivors.
  EXPECT_NE(dot.find("[label=\"0x18e960 "), std::string::npos);
  EXPECT_NE(dot.find("[label=\"0x187b80 list"), std::string::npos);
  if (!have_dot()) GTEST_SKIP() << "Graphviz dot is not installed";
  render(dot, "split");
  render(fixture_dot(l), "split_all");
}

}  // namespace
}  // namespace mpheap::report
