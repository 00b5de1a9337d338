// Retainer paths in Python terms on the micro:bit snapshot (workload.py names every object).
#include "mpheap/heap/python_path.h"

#include <gtest/gtest.h>

#include "mpheap/heap/objects.h"
#include "mpheap/target/from_map.h"
#include "mpheap/target/layout_heuristics.h"
#include "trace/test_util.h"

namespace mpheap::heap {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

TEST(PythonPath, MicrobitNamedObjects) {
  std::string dir = data_path("qemu-microbit/");
  auto t = target::read_map_target(read_file(dir + "firmware.map"), "firmware.map",
                                   read_file(dir + "firmware.nm"), "firmware.nm",
                                   read_file(dir + "qstr_static.txt"), "qstr_static.txt");
  ASSERT_TRUE(t);
  io::MemoryImage ram;
  ram.add(*io::load_placed_file(*io::parse_placed_file(dir + "snap2_ram.bin@0x20000000")));
  ASSERT_TRUE(target::infer_layout(*t, ram, std::nullopt));
  auto snap = decode_snapshot(*t, ram, 0);
  ASSERT_TRUE(snap);
  ObjectReader reader(*t, ram, *snap);
  name_instance_types(*snap, reader, *t);
  label_headerless_blocks(*snap, reader, *t);
  GraphOptions go;
  go.stack = AddressRange{0x20003e18, 0x20004000};  // SP inside mem_info(1) .. top of RAM
  ObjectGraph g = build_graph(*t, ram, *snap, go);
  Reachability r = reachability(*snap, g);
  auto path_to = [&](std::uint64_t address) {
    auto o = object_containing(*snap, address);
    EXPECT_TRUE(o) << std::hex << address;
    return o ? python_path(*snap, g, r, reader, *t, *o).value_or("(none)") : std::string("(none)");
  };
  EXPECT_EQ(path_to(0x20000490), "mp_state_ctx.vm.dict_main['CONFIG']");
  EXPECT_EQ(path_to(0x20000430), "mp_state_ctx.vm.dict_main['GREETING']");
  EXPECT_EQ(path_to(0x200004c0), "mp_state_ctx.vm.dict_main['GREETING'] -> 0x200004c0 (str data)");
  EXPECT_EQ(path_to(0x200006b0), "mp_state_ctx.vm.dict_main['SPRITES'][0]");
  EXPECT_EQ(path_to(0x200006d0), "mp_state_ctx.vm.dict_main['SPRITES'][2]");
}

}  // namespace
}  // namespace mpheap::heap
