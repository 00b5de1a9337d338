#include "mpheap/io/registers.h"

#include <gtest/gtest.h>

#include "trace/test_util.h"

namespace mpheap::io {
namespace {

using testing::data_path;
using testing::read_file;

// gdb's `info registers` on Debian's micro:bit firmware halted in QEMU (microbit-debian/alloc).
TEST(Registers, ReadsGdbInfoRegistersOfTheMicrobit) {
  auto regs = parse_registers(read_file(data_path("microbit-debian/alloc/snap2_regs.txt")));
  ASSERT_TRUE(regs) << regs.error().message();
  ASSERT_EQ(regs->size(), 17u);
  EXPECT_EQ((*regs)[0].name, "r0");
  EXPECT_EQ((*regs)[0].value, 0x95u);
  EXPECT_EQ((*regs)[3].name, "r3");
  EXPECT_EQ((*regs)[3].value, 0x2000014cu);
  EXPECT_EQ((*regs)[16].name, "xpsr");
  EXPECT_EQ((*regs)[16].value, 0x61000000u);
  EXPECT_EQ(stack_pointer(*regs), 0x20003e18u);
}

TEST(Registers, X86WithFlagsSegmentsAndVectorRegisters) {
  const char* text =
      "(gdb) info all-registers\n"
      "rax            0x1c                28\n"
      "rsp            0x7fffffffe3a0      0x7fffffffe3a0\n"
      "rip            0x555555555131      0x555555555131 <main+8>\n"
      "eflags         0x246               [ IF ZF PF ]\n"
      "fs_base        0x7ffff7d8a740      140737351559999\n"
      "xmm0           {v8_bfloat16 = {0x0, 0x0}, v4_float = {0x0, 0x0, 0x0, 0x0}}\n"
      "\n";
  auto regs = parse_registers(text);
  ASSERT_TRUE(regs) << regs.error().message();
  ASSERT_EQ(regs->size(), 5u);
  EXPECT_EQ((*regs)[3].name, "eflags");
  EXPECT_EQ((*regs)[3].value, 0x246u);
  EXPECT_EQ(stack_pointer(*regs), 0x7fffffffe3a0u);
}

TEST(Registers, BadLinesNameTheLine) {
  auto bad = parse_registers("r0 0x1 1\nr1 zero\n", "regs.txt");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().line, 2u);
  EXPECT_EQ(bad.error().message(),
            "regs.txt:2: expected the value of register r1 (0x... or decimal), found 'zero'");
  auto name = parse_registers("The program is not being run.\n", "regs.txt");
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().line, 1u);
  auto empty = parse_registers("\n\n", "regs.txt");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().what.find("no registers found"), std::string::npos);
  auto no_sp = parse_registers("r0 0x1 1\n");
  ASSERT_TRUE(no_sp);
  EXPECT_FALSE(stack_pointer(*no_sp));
}

}  // namespace
}  // namespace mpheap::io
