#include "mpheap/io/registers.h"

#include <fmt/format.h>
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

namespace mpheap::io {
namespace {

// A `g` reply as QEMU's Cortex-M stub sends it: r0..r15 little-endian, then more registers.
TEST(Registers, ArmGReply) {
  std::string hex;
  for (std::uint32_t v : {0x95u, 0u, 0u, 0x2000014cu, 0xbb8u, 0x2c7acu, 0x1d64u, 0u, 0u, 0u,
                          0x1fff4000u, 0u, 1u, 0x20003e18u, 0x29959u, 0x2995au}) {
    for (int b = 0; b < 4; ++b) hex += fmt::format("{:02x}", (v >> (8 * b)) & 0xff);
  }
  hex += "00000061";  // xpsr: past the named ones, left out
  std::string with_unavailable = hex;
  with_unavailable.replace(8, 8, "xxxxxxxx");  // r1 not available
  auto regs = registers_from_g_reply(with_unavailable, "ARM", 4, true);
  ASSERT_TRUE(regs) << regs.error().message();
  ASSERT_EQ(regs->size(), 15u);
  EXPECT_EQ((*regs)[0].name, "r0");
  EXPECT_EQ((*regs)[0].value, 0x95u);
  EXPECT_EQ((*regs)[1].name, "r2");
  EXPECT_EQ((*regs)[12].name, "sp");
  EXPECT_EQ(stack_pointer(*regs), 0x20003e18u);
  EXPECT_EQ((*regs)[14].name, "pc");
  EXPECT_EQ((*regs)[14].value, 0x2995au);
}

TEST(Registers, X86_64GReplyAndErrors) {
  std::string hex;
  for (std::uint64_t i = 0; i < 17; ++i) {
    const std::uint64_t v = i == 7 ? 0x7fffffffe3a0ULL : i;
    for (int b = 0; b < 8; ++b) hex += fmt::format("{:02x}", (v >> (8 * b)) & 0xff);
  }
  auto regs = registers_from_g_reply(hex, "x86-64", 8, true);
  ASSERT_TRUE(regs) << regs.error().message();
  ASSERT_EQ(regs->size(), 17u);
  EXPECT_EQ((*regs)[7].name, "rsp");
  EXPECT_EQ(stack_pointer(*regs), 0x7fffffffe3a0ULL);
  EXPECT_EQ((*regs)[16].name, "rip");

  auto unknown = registers_from_g_reply(hex, "", 4, true);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().what.find("not known for machine 'unknown'"), std::string::npos);
  auto bad = registers_from_g_reply("0000zz00", "ARM", 4, true);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().what.find("expected hex digits of register r0, found '0000zz00'"),
            std::string::npos);
}

}  // namespace
}  // namespace mpheap::io
