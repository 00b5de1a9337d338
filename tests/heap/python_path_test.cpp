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

}  // namespace
}  // namespace mpheap::heap
