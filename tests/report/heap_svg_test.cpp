// The SVG block map read back: one cell per block, in block order, coloured by the decoded type.
#include "mpheap/report/heap_svg.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <regex>

#include "cli/cli_runner.h"
#include "heap/snapshot_fixture.h"
#include "mpheap/heap/graph.h"

namespace mpheap::report {
namespace {

using mpheap::testing::data_path;

struct Cell {
  std::size_t area = 0;
  std::string group;  // obj, free, unowned
  std::string type;   // data-type of an obj group
  std::string fill;
  std::uint64_t x = 0, y = 0;
};

struct ParsedSvg {
  std::vector<std::vector<Cell>> areas;
  std::map<std::string, std::string> legend;  // type -> colour
  std::size_t bounds = 0;
};

// A reader for the SVG this project writes (one element per tag, attributes in fixed order).
ParsedSvg parse(const std::string& svg) {
  ParsedSvg p;
  std::regex tag(R"re(<g class="area" data-area="(\d+)")re"
                 R"re(|<g class="(obj|free|unowned)"(?: data-type="([^"]*)")?>)re"
                 R"re(|<rect class="blk" x="(\d+)" y="(\d+)" width="\d+" height="\d+" )re"
                 R"re(fill="(#[0-9a-f]{6})"/>)re"
                 R"re(|<rect class="key" x="\d+" y="\d+" width="10" height="10" )re"
                 R"re(fill="(#[0-9a-f]{6})" data-type="([^"]*)"/>)re"
                 R"re(|<rect class="bound")re");
  std::string group, type;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tag); it != std::sregex_iterator();
       ++it) {
    const std::smatch& m = *it;
    if (m[1].matched) {
      p.areas.emplace_back();
    } else if (m[2].matched) {
      group = m[2];
      type = m[3].matched ? std::string(m[3]) : "";
    } else if (m[4].matched) {
      p.areas.back().push_back(
          Cell{p.areas.size() - 1, group, type, m[6], std::stoull(m[4]), std::stoull(m[5])});
    } else if (m[7].matched) {
      p.legend[m[8]] = m[7];
    } else {
      ++p.bounds;
    }
  }
  return p;
}

// Checks every cell against the decoded snapshot.
void check_cells(const heap::Snapshot& s, const ParsedSvg& p) {
  ASSERT_EQ(p.areas.size(), s.areas.size());
  EXPECT_EQ(p.bounds, s.areas.size());
  std::uint64_t cells = 0;
  for (std::size_t ai = 0; ai < s.areas.size(); ++ai) {
    const heap::AreaSnapshot& a = s.areas[ai];
    const auto& got = p.areas[ai];
    ASSERT_EQ(got.size(), a.kinds.size()) << "area " << ai;
    cells += got.size();
    // Expected type per block: free, or the type of the object covering it.
    std::vector<std::string> want(a.kinds.size());
    for (std::uint64_t i = 0; i < a.object_count; ++i) {
      const heap::HeapObject& o = s.objects[a.first_object + i];
      for (std::uint64_t b = o.block; b < o.block + o.blocks && b < want.size(); ++b)
        want[b] = heap::object_type_label(s, o);
    }
    for (std::uint64_t b = 0; b < a.kinds.size(); ++b) {
      const Cell& c = got[b];
      EXPECT_EQ(c.x, 10 + (b % 64) * 8) << "block " << b;
      if (a.kinds[b] == heap::BlockKind::free) {
        EXPECT_EQ(c.group, "free") << "block " << b;
        EXPECT_EQ(c.fill, kFreeBlockColour) << "block " << b;
      } else {
        ASSERT_EQ(c.group, "obj") << "area " << ai << " block " << b;
        EXPECT_EQ(c.type, want[b]) << "block " << b;
        EXPECT_EQ(c.fill, heap_type_colour(want[b])) << "block " << b;
        EXPECT_EQ(p.legend.at(want[b]), c.fill);
      }
    }
  }
  EXPECT_EQ(cells, s.totals.blocks);
  EXPECT_EQ(p.legend.at("free"), kFreeBlockColour);
}

// Well-formed XML, when xmllint is installed.
void check_xml(const std::string& svg) {
  if (access("/usr/bin/xmllint", X_OK) != 0) return;
  std::string path = "/tmp/mpheap_svg_" + std::to_string(::getpid()) + ".svg";
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(svg.data(), 1, svg.size(), f);
  std::fclose(f);
  int rc = std::system(("/usr/bin/xmllint --noout " + path + " 2>/dev/null").c_str());
  std::remove(path.c_str());
  EXPECT_EQ(rc, 0) << "xmllint rejects the SVG";
}

TEST(HeapSvg, MicrobitCellsMatchTheDecodedBlocks) {
  auto l = mpheap::testing::load_fixture_snapshot("qemu-microbit", true, "qstr_static.txt",
                                                  {"snap2_ram.bin@0x20000000"}, true);
  ASSERT_EQ(l.snap.areas.size(), 1u);
  HeapSvgOptions o;
  o.title = "micro:bit <snap2> & co";
  std::string svg = heap_svg(l.snap, l.t, o);
  ParsedSvg p = parse(svg);
  check_cells(l.snap, p);
  // 7936 bytes / 16 = 496 blocks (the firmware's mem_info: "GC: total: 7936").
  EXPECT_EQ(p.areas[0].size(), 496u);
  EXPECT_NE(svg.find("micro:bit &lt;snap2&gt; &amp; co"), std::string::npos);
  // GREETING's str object, as the tooltip names it.
  EXPECT_NE(svg.find("<title>0x20000430 str, "), std::string::npos);
  EXPECT_NE(svg.find("area 0: 0x20000410.."), std::string::npos);
  check_xml(svg);
}

TEST(HeapSvg, SplitHeapHasOneBandPerArea) {
  auto l = mpheap::testing::load_fixture_snapshot("qemu-mps2-splitheap", true, "rom_qstrs.txt",
                                                  {"snap2_ram.bin@0x187454"}, true);
  ASSERT_EQ(l.snap.areas.size(), 3u);
  std::string svg = heap_svg(l.snap, l.t);
  ParsedSvg p = parse(svg);
  check_cells(l.snap, p);
  // Each area's cells start below the previous area's last row.
  for (std::size_t ai = 1; ai < p.areas.size(); ++ai)
    EXPECT_GT(p.areas[ai].front().y, p.areas[ai - 1].back().y);
  check_xml(svg);
}

TEST(HeapSvg, TypeColoursAreStable) {
  EXPECT_EQ(heap_type_colour("dict"), "#3465a4");
  EXPECT_EQ(heap_type_colour("Sprite"), heap_type_colour("Sprite"));
  EXPECT_NE(heap_type_colour("Sprite"), heap_type_colour("Sprites"));
  EXPECT_EQ(heap_type_colour("Sprite").size(), 7u);
}

TEST(HeapSvg, CliWritesTheImage) {
  std::string d = data_path("qemu-microbit/");
  std::string svg = "/tmp/mpheap_cli_" + std::to_string(::getpid()) + ".svg";
  auto r = mpheap::testing::run_mpheap("heap " + d + "snap1_ram.bin@0x20000000 --map " + d +
                                           "firmware.map --nm " + d + "firmware.nm --qstrs " + d +
                                           "qstr_static.txt --svg " + svg,
                                       true);
  ASSERT_EQ(r.status, 0) << r.out;
  std::string text = mpheap::testing::read_file(svg);
  std::remove(svg.c_str());
  ParsedSvg p = parse(text);
  ASSERT_EQ(p.areas.size(), 1u);
  EXPECT_EQ(p.areas[0].size(), 496u);
  auto bad = mpheap::testing::run_mpheap("heap " + d + "snap1_ram.bin@0x20000000 --map " + d +
                                             "firmware.map --nm " + d +
                                             "firmware.nm --svg /nonexistent-dir/x.svg",
                                         true);
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("/nonexistent-dir/x.svg"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace mpheap::report
