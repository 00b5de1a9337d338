// Retainer paths in Python terms on the micro:bit snapshot (workload.py names every object).
#include "mpheap/heap/python_path.h"

#include <gtest/gtest.h>

#include "heap/snapshot_fixture.h"
#include "mpheap/heap/objects.h"
#include "mpheap/target/from_map.h"
#include "mpheap/target/layout_heuristics.h"
#include "trace/test_util.h"

namespace mpheap::heap {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

TEST(PythonPath, MicrobitNamedObjects) {
  auto l = mpheap::testing::load_fixture_snapshot("qemu-microbit", true, "qstr_static.txt",
                                                  {"snap2_ram.bin@0x20000000"}, /*typed=*/true);
  const target::Target& t = l.t;
  Snapshot& snap_ref = l.snap;
  ObjectReader reader(t, l.ram, snap_ref);
  GraphOptions go;
  go.stack = AddressRange{0x20003e18, 0x20004000};  // SP inside mem_info(1) .. top of RAM
  ObjectGraph g = build_graph(t, l.ram, snap_ref, go);
  Reachability r = reachability(snap_ref, g);
  auto path_to = [&](std::uint64_t address) {
    auto o = object_containing(snap_ref, address);
    EXPECT_TRUE(o) << std::hex << address;
    return o ? python_path(snap_ref, g, r, reader, t, *o).value_or("(none)")
             : std::string("(none)");
  };
  EXPECT_EQ(path_to(0x20000490), "mp_state_ctx.vm.dict_main['CONFIG']");
  EXPECT_EQ(path_to(0x20000430), "mp_state_ctx.vm.dict_main['GREETING']");
  EXPECT_EQ(path_to(0x200004c0), "mp_state_ctx.vm.dict_main['GREETING'] -> 0x200004c0 (str data)");
  EXPECT_EQ(path_to(0x200006b0), "mp_state_ctx.vm.dict_main['SPRITES'][0]");
  EXPECT_EQ(path_to(0x200006d0), "mp_state_ctx.vm.dict_main['SPRITES'][2]");
}

// Every object's path as a chain of hops (one pass for the whole heap) reads the same as the
// path found for that object alone, on every object of the snapshot.
TEST(PythonPath, HopsSpellEveryPath) {
  auto l = mpheap::testing::load_fixture_snapshot("qemu-microbit", true, "qstr_static.txt",
                                                  {"snap2_ram.bin@0x20000000"}, /*typed=*/true);
  ObjectReader reader(l.t, l.ram, l.snap);
  GraphOptions go;
  go.stack = AddressRange{0x20003e18, 0x20004000};
  ObjectGraph g = build_graph(l.t, l.ram, l.snap, go);
  Reachability r = reachability(l.snap, g);
  PythonHops hops = python_hops(l.snap, g, r, reader, l.t);
  std::size_t reachable = 0, deeper = 0;
  for (std::uint32_t o = 0; o < l.snap.objects.size(); ++o) {
    std::optional<std::string> whole = python_path(l.snap, g, r, reader, l.t, o);
    std::string joined;
    std::uint32_t depth = 0;
    for (std::uint32_t x = o; x != kNoObject && r.reachable[x] != 0; x = hops.parent[x], ++depth)
      joined = hops.hop[x] + joined;
    if (r.reachable[o] == 0) {
      EXPECT_FALSE(whole);
      EXPECT_EQ(hops.depth[o], 0u);
      continue;
    }
    ++reachable;
    deeper += hops.depth[o] > 2 ? 1 : 0;
    EXPECT_EQ(joined, whole.value_or("(none)")) << std::hex << l.snap.objects[o].address;
    EXPECT_EQ(hops.depth[o], depth);
  }
  EXPECT_EQ(reachable, r.reachable_objects);
  EXPECT_GT(deeper, 10u);
  auto o = object_containing(l.snap, 0x200006d0);
  ASSERT_TRUE(o);
  EXPECT_EQ(hops.hop[*o], "[2]");
}

}  // namespace
}  // namespace mpheap::heap
