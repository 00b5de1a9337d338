// Every snapshot fixture that comes with a map and/or nm output: the block map equals what
// micropython.mem_info(1) printed at that moment (the pool address line aside), and the totals
// equal its GC: lines. The layouts come from the map/nm path's heuristics on the same dump.
#include <gtest/gtest.h>

#include <sstream>

#include "heap/mem_info.h"
#include "mpheap/heap/snapshot.h"
#include "mpheap/report/heap_report.h"
#include "mpheap/target/from_map.h"
#include "mpheap/target/layout_heuristics.h"
#include "trace/test_util.h"

namespace mpheap::heap {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

struct Case {
  const char* name;
  const char* dir;
  bool map;
  std::vector<std::string> dumps;  // relative FILE@ADDR
  const char* mem_info;
  std::uint64_t heads, tails;  // from the fixture READMEs (0 = not stated)
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

using mpheap::testing::MemInfo;
using mpheap::testing::parse_mem_info;

class SnapshotFixture : public ::testing::TestWithParam<Case> {};

TEST_P(SnapshotFixture, BlockMapAndTotalsEqualMemInfo) {
  const Case& c = GetParam();
  std::string dir = c.dir;
  auto t = target::read_map_target(c.map ? read_file(data_path(dir + "/firmware.map")) : "",
                                   "firmware.map", read_file(data_path(dir + "/firmware.nm")),
                                   "firmware.nm", "", "");
  ASSERT_TRUE(t) << t.error().message();
  io::MemoryImage ram;
  for (const std::string& d : c.dumps) {
    auto placed = io::parse_placed_file(data_path(dir + "/" + d));
    ASSERT_TRUE(placed);
    auto range = io::load_placed_file(*placed);
    ASSERT_TRUE(range) << range.error().message();
    ram.add(std::move(*range));
  }
  auto findings = target::infer_layout(*t, ram, std::nullopt);
  ASSERT_TRUE(findings) << findings.error().message();
  auto snap = decode_snapshot(*t, ram, findings->load_bias);
  ASSERT_TRUE(snap) << snap.error().message();
  EXPECT_TRUE(snap->diagnostics.empty());

  MemInfo want = parse_mem_info(read_file(data_path(dir + "/" + c.mem_info)));
  MemInfo got = parse_mem_info(report::gc_info_text(snap->totals) + report::blockmap(*snap, *t));
  EXPECT_EQ(got.gc_lines, want.gc_lines);
  EXPECT_EQ(got.map_lines, want.map_lines);
  if (c.heads != 0) {
    EXPECT_EQ(snap->totals.heads, c.heads);
    EXPECT_EQ(snap->totals.tails, c.tails);
  }
  // Invariants: free + head + tail (+ mark) = area blocks; each object inside its area.
  for (const AreaSnapshot& a : snap->areas) {
    std::uint64_t counts[4] = {0, 0, 0, 0};
    for (BlockKind k : a.kinds) ++counts[static_cast<int>(k)];
    EXPECT_EQ(counts[0] + counts[1] + counts[2] + counts[3], a.bounds.blocks());
    for (std::uint64_t i = 0; i < a.object_count; ++i) {
      const HeapObject& o = snap->objects[a.first_object + i];
      EXPECT_LE(o.block + o.blocks, a.kinds.size());
      EXPECT_GE(o.address, a.bounds.pool_start);
      EXPECT_LE(o.address + o.blocks * t->block_size, a.bounds.pool_end);
    }
  }
}

const Case kCases[] = {
    {"microbit_snap1",
     "qemu-microbit",
     true,
     {"snap1_ram.bin@0x20000000"},
     "snap1_mem_info.txt",
     42,
     47},
    {"microbit_snap2",
     "qemu-microbit",
     true,
     {"snap2_ram.bin@0x20000000"},
     "snap2_mem_info.txt",
     48,
     50},
    {"splitheap_snap1",
     "qemu-mps2-splitheap",
     true,
     {"snap1_ram.bin@0x187454"},
     "snap1_mem_info.txt",
     0,
     0},
    {"splitheap_snap2",
     "qemu-mps2-splitheap",
     true,
     {"snap2_ram.bin@0x187454"},
     "snap2_mem_info.txt",
     0,
     0},
    {"splitheap_snap3",
     "qemu-mps2-splitheap",
     true,
     {"snap3_ram.bin@0x187454"},
     "snap3_mem_info.txt",
     0,
     0},
    {"unix_snap1",
     "unix-x64",
     false,
     {"snap1_mp_state_ctx.bin@0x5555555f2440", "snap1_heap.bin@0x5555555f32d0"},
     "snap1_mem_info.txt",
     79,
     97},
    {"unix_snap2",
     "unix-x64",
     false,
     {"snap2_mp_state_ctx.bin@0x5555555f2440", "snap2_heap.bin@0x5555555f32d0"},
     "snap2_mem_info.txt",
     70,
     67},
    {"circuitpython_snap1",
     "circuitpython-unix",
     false,
     {"snap1_mp_state_ctx.bin@0x5555555de3a0", "snap1_heap.bin@0x5555555df2d0"},
     "snap1_mem_info.txt",
     66,
     70},
    {"circuitpython_snap2",
     "circuitpython-unix",
     false,
     {"snap2_mp_state_ctx.bin@0x5555555de3a0", "snap2_heap.bin@0x5555555df2d0"},
     "snap2_mem_info.txt",
     76,
     76},
};

INSTANTIATE_TEST_SUITE_P(Fixtures, SnapshotFixture, ::testing::ValuesIn(kCases),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace mpheap::heap
