// The stack and registers as roots: the range from SP to the stack's top (found in the dump or
// from the firmware's stack region) and register values.
#include "mpheap/heap/stack.h"

#include <gtest/gtest.h>

#include "heap/snapshot_fixture.h"
#include "mpheap/heap/dominators.h"
#include "mpheap/heap/graph.h"

namespace mpheap::heap {
namespace {

// qemu-microbit/README.md: RAM 0x20000000..0x20004000, _estack 0x20004000, SP 0x20003e18
// inside mem_info(1) (where snap2 was taken). The port's main() sets thread.stack_top to its own
// SP (mp_cstack_init_with_sp_here), 0x20003fe4 in the dump: gc_collect scans up to there.
TEST(StackRoots, QemuMicrobitStackTopAndRange) {
  auto l = testing::load_fixture_snapshot("qemu-microbit", true, "qstr_static.txt",
                                          {"snap2_ram.bin@0x20000000"});
  auto top = find_stack_top(l.t, l.ram, 0);
  ASSERT_TRUE(top);
  EXPECT_EQ(top->address, 0x20003fe4u) << top->how;
  EXPECT_EQ(top->how, "mp_state_ctx.thread.stack_top = 0x20003fe4 in the dump");
  auto range = stack_range(0x20003e18, *top);
  ASSERT_TRUE(range);
  EXPECT_EQ(range->start, 0x20003e18u);
  EXPECT_EQ(range->end, 0x20003fe4u);

  auto above = stack_range(0x20003ff0, *top);
  ASSERT_FALSE(above);
  EXPECT_NE(above.error().what.find(
                "the stack pointer 0x20003ff0 is not below the stack's top 0x20003fe4"),
            std::string::npos);
  auto far = stack_range(0x1000, *top, 1 << 20);
  ASSERT_FALSE(far);
  EXPECT_NE(far.error().what.find("are the registers from this dump?"), std::string::npos);
}

// The stack keeps objects alive that nothing else holds, and so does a register: scanning the
// stack from SP never makes fewer objects reachable, and an object no static root reaches
// becomes reachable (named "register r4") when a register points at it.
TEST(StackRoots, StackAndRegistersAreRoots) {
  auto l = testing::load_fixture_snapshot("qemu-microbit", true, "qstr_static.txt",
                                          {"snap2_ram.bin@0x20000000"});
  ObjectGraph without = build_graph(l.t, l.ram, l.snap);
  Reachability r0 = reachability(l.snap, without);
  GraphOptions go;
  go.stack = AddressRange{0x20003e18, 0x20003fe4};
  ObjectGraph with_stack = build_graph(l.t, l.ram, l.snap, go);
  Reachability r1 = reachability(l.snap, with_stack);
  EXPECT_GE(r1.reachable_objects, r0.reachable_objects);
  for (std::size_t i = 0; i < l.snap.objects.size(); ++i) {
    if (r0.reachable[i] != 0) {
      EXPECT_NE(r1.reachable[i], 0) << i;
    }
  }

  std::optional<std::uint32_t> garbage;
  for (std::uint32_t i = 0; i < l.snap.objects.size() && !garbage; ++i)
    if (r0.reachable[i] == 0) garbage = i;
  ASSERT_TRUE(garbage) << "snap2 holds objects only the stack keeps";
  const std::uint64_t address = l.snap.objects[*garbage].address;
  GraphOptions regs;
  regs.registers = {{"r0", 0x95}, {"r4", address + 4}, {"pc", 0x2995a}};
  ObjectGraph with_regs = build_graph(l.t, l.ram, l.snap, regs);
  Reachability r2 = reachability(l.snap, with_regs);
  EXPECT_NE(r2.reachable[*garbage], 0);
  auto refs = with_regs.roots_of(*garbage);
  ASSERT_FALSE(refs.empty());
  EXPECT_EQ(with_regs.roots[refs.front()].name, "register r4");
  EXPECT_EQ(with_regs.roots[refs.front()].value, address + 4);
  EXPECT_EQ(with_regs.roots[refs.front()].slot, 0u);
}

}  // namespace
}  // namespace mpheap::heap
