// DebugInfo offline: frames named at known pcs of the stock MicroPython 1.28 ELFs (expected
// values from gdb 13 and addr2line, as each comment says), parameter counts, `g` replies, and
// the errors for an ELF without CFI or DWARF and for a file that is not an ELF.
#include "mpheap/target/debug_info.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "capture/process_util.h"
#include "trace/test_util.h"

namespace mpheap::target::elf {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

constexpr std::uint64_t kPieBias = 0x555555554000;

std::unique_ptr<ElfImage> load(const std::string& path) {
  auto image = ElfImage::open(read_file(path), path);
  EXPECT_TRUE(image) << image.error().message();
  return image ? std::move(*image) : nullptr;
}

std::string text(const std::vector<SourceFrame>& frames) {
  std::string out;
  for (const SourceFrame& f : frames)
    out +=
        fmt::format("{}{} at {}:{}\n", f.inlined ? "[inlined] " : "", f.function, f.file, f.line);
  return out;
}

TEST(DebugInfo, NamesInlinedFramesOfTheMicrobitBuild) {
  auto elf = load(data_path("stock-v1.28/qemu-microbit/firmware.elf"));
  ASSERT_TRUE(elf);
  auto info = DebugInfo::open(*elf, 0);
  ASSERT_TRUE(info) << info.error().message();
  // `addr2line -f -i -a 0x574 -e firmware.elf`: gc_sweep_free_blocks gc.c:696 inlined in
  // gc_collect_end gc.c:582; `gdb-multiarch -batch -ex 'info line *0x574'`: Line 696 of
  // "../../py/gc.c" (gdb's name for the file, without the compilation directory addr2line adds).
  EXPECT_EQ(text((*info)->describe(0x574, false)),
            "[inlined] gc_sweep_free_blocks at ../../py/gc.c:696\n"
            "gc_collect_end at ../../py/gc.c:582\n");
  // 0x5b1 as a return address describes 0x5b0: gc_sweep_run_finalisers gc.c:626 inlined in
  // gc_collect_end gc.c:581 (addr2line -i -a 0x5b0).
  const auto& r = (*info)->describe(0x5b1, true);
  ASSERT_EQ(r.size(), 2U);
  EXPECT_EQ(r[0].pc, 0x5b1U);
  EXPECT_EQ(text(r),
            "[inlined] gc_sweep_run_finalisers at ../../py/gc.c:626\n"
            "gc_collect_end at ../../py/gc.c:581\n");
  // gdb's bt on QEMU: "#6 0x0001cb26 in main (...) at main.c:47": a DWARF 4 unit's file in the
  // compilation directory is printed bare.
  EXPECT_EQ(text((*info)->describe(0x1cb26, true)), "main at main.c:47\n");
  // The second call is served from the cache: the same object.
  EXPECT_EQ(&(*info)->describe(0x1cb26, true), &(*info)->describe(0x1cb26, true));
  EXPECT_EQ((*info)->pc_register(), 15);
  EXPECT_EQ((*info)->sp_register(), 13);
  // gc_alloc(size_t n_bytes, unsigned int alloc_flags) at 0x860 (nm: 00000861 T gc_alloc).
  EXPECT_EQ((*info)->parameter_count(0x860), 2);
  EXPECT_EQ((*info)->parameter_count(0x574), 0);  // gc_collect_end(void)
  EXPECT_FALSE((*info)->parameter_count(0xfffffff0));
  EXPECT_EQ(text((*info)->describe(0xfffffff0, false)), "?? at :0\n");
}

TEST(DebugInfo, NamesFramesOfTheUnixBuild) {
  auto elf = load(data_path("stock-v1.28/unix-x64/micropython"));
  ASSERT_TRUE(elf);
  auto info = DebugInfo::open(*elf, kPieBias);
  ASSERT_TRUE(info) << info.error().message();
  // Return addresses from gdb 13's bt at `break gc_alloc` running
  // `micropython -X heapsize=64K workload.py` (bias 0x555555554000 under gdb and gdbserver).
  EXPECT_EQ(text((*info)->describe(0x55555556c99d, true)), "m_malloc at ../../py/malloc.c:86\n");
  EXPECT_EQ(text((*info)->describe(0x55555557e9b9, true)), "mp_init at ../../py/runtime.c:111\n");
  // A DWARF 5 unit's file in directory 0 gets that directory: gdb prints the path it built with.
  EXPECT_EQ(text((*info)->describe(0x5555555ac054, true)),
            "main_ at micropython/ports/unix/main.c:496\n");
  EXPECT_EQ((*info)->pc_register(), 16);
  EXPECT_EQ((*info)->sp_register(), 7);
  EXPECT_EQ((*info)->parameter_count(0x55555556c99d - 1), 1);  // m_malloc(size_t num_bytes)
  // Below the bias nothing is ours.
  EXPECT_EQ(text((*info)->describe(0x1000, false)), "?? at :0\n");
}

TEST(DebugInfo, GReplyToDwarfNumbers) {
  auto elf = load(data_path("stock-v1.28/unix-x64/micropython"));
  ASSERT_TRUE(elf);
  auto info = DebugInfo::open(*elf, kPieBias);
  ASSERT_TRUE(info);
  // gdbserver's order: rax rbx rcx rdx rsi rdi rbp rsp r8..r15 rip, little endian.
  std::string hex;
  for (int i = 0; i < 17; ++i)
    hex += i == 2 ? "xxxxxxxxxxxxxxxx" : fmt::format("{:02x}00000000000000", i + 1);
  RegisterFile regs = (*info)->registers_from_g_reply(hex);
  ASSERT_EQ(regs.size(), 17U);
  EXPECT_EQ(regs[0], 1U);    // rax
  EXPECT_EQ(regs[3], 2U);    // rbx
  EXPECT_FALSE(regs[2]);     // rcx: xx
  EXPECT_EQ(regs[1], 4U);    // rdx
  EXPECT_EQ(regs[4], 5U);    // rsi
  EXPECT_EQ(regs[5], 6U);    // rdi
  EXPECT_EQ(regs[6], 7U);    // rbp
  EXPECT_EQ(regs[7], 8U);    // rsp
  EXPECT_EQ(regs[8], 9U);    // r8
  EXPECT_EQ(regs[15], 16U);  // r15
  EXPECT_EQ(regs[16], 17U);  // rip
  // Garbage: nothing known, no crash, and an unwind of nothing.
  RegisterFile none = (*info)->registers_from_g_reply("zz");
  EXPECT_EQ(none.size(), 17U);
  EXPECT_TRUE((*info)
                  ->unwind(none, [](std::uint64_t, std::size_t, std::uint8_t*) { return false; })
                  .empty());
}

TEST(DebugInfo, ArmGReplyAndThumbReturnAddress) {
  auto elf = load(data_path("stock-v1.28/qemu-microbit/firmware.elf"));
  ASSERT_TRUE(elf);
  auto info = DebugInfo::open(*elf, 0);
  ASSERT_TRUE(info);
  // A stop at gc_alloc's first instruction (0x860) called from m_malloc: lr = 0x11f (return
  // address 0x11e with the Thumb bit, as gdb's bt shows "#1 0x0000011e in m_malloc").
  std::string hex;
  for (int i = 0; i < 16; ++i) {
    std::uint32_t v = i == 13 ? 0x20003f00 : i == 14 ? 0x11f : i == 15 ? 0x860 : i;
    for (int b = 0; b < 4; ++b) hex += fmt::format("{:02x}", (v >> (8 * b)) & 0xff);
  }
  RegisterFile regs = (*info)->registers_from_g_reply(hex);
  ASSERT_EQ(regs.size(), 16U);
  EXPECT_EQ(regs[13], 0x20003f00U);
  EXPECT_EQ(regs[15], 0x860U);
  // The stack is all zeros: m_malloc's frame then says its caller's return address is 0, where
  // the chain ends.
  auto pcs = (*info)->unwind(regs, [](std::uint64_t, std::size_t size, std::uint8_t* out) {
    std::memset(out, 0, size);
    return true;
  });
  ASSERT_GE(pcs.size(), 2U);
  EXPECT_EQ(pcs[0], 0x860U);
  EXPECT_EQ(pcs[1], 0x11eU);
  EXPECT_EQ(pcs.size(), 2U);
  // Memory that cannot be read ends the chain where a saved register is needed.
  auto short_chain = (*info)->unwind(
      regs, [](std::uint64_t, std::size_t, std::uint8_t*) { return false; }, 8);
  EXPECT_GE(short_chain.size(), 1U);
  EXPECT_LE(short_chain.size(), 2U);
  EXPECT_EQ((*info)->unwind(regs, {}, 1).size(), 1U);
}

TEST(DebugInfo, ElfWithoutCfiOrDwarfIsAnError) {
  mpheap::testing::TempDir dir("debuginfo");
  const std::string source = dir.file("plain.c");
  {
    std::ofstream out(source);
    out << "int f(int x) { return x + 1; }\n";
  }
  const std::string object = dir.file("plain.o");
  if (mpheap::testing::run_shell(fmt::format(
          "gcc -g0 -fno-asynchronous-unwind-tables -c -o '{}' '{}' 2>/dev/null", object, source)) !=
      0)
    GTEST_SKIP() << "no gcc";
  auto elf = load(object);
  ASSERT_TRUE(elf);
  auto info = DebugInfo::open(*elf, 0);
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message().find("no call frame information"), std::string::npos)
      << info.error().message();
  EXPECT_EQ(info.error().source, object);
}

TEST(DebugInfo, GarbageDebugSectionsDoNotCrash) {
  EXPECT_FALSE(ElfImage::open(std::string(256, 'x'), "garbage.bin"));
  // The microbit ELF with its .debug_* sections overwritten by a byte pattern: open may fail or
  // not, but nothing it answers crashes or reads outside what it was given.
  std::string bytes = read_file(data_path("stock-v1.28/qemu-microbit/firmware.elf"));
  auto clean = ElfImage::open(bytes, "clean.elf");
  ASSERT_TRUE(clean);
  for (const ElfSection& s : (*clean)->sections())
    if (s.name.rfind(".debug_", 0) == 0 && s.offset + s.size <= bytes.size())
      for (std::uint64_t i = 0; i < s.size; ++i)
        bytes[s.offset + i] = static_cast<char>(0x5a ^ (i * 7));
  auto elf = ElfImage::open(bytes, "garbled.elf");
  ASSERT_TRUE(elf);
  auto info = DebugInfo::open(**elf, 0);
  if (!info) return;
  for (std::uint64_t pc : {0x574U, 0x860U, 0x1cb26U}) {
    (void)(*info)->describe(pc, true);
    (void)(*info)->parameter_count(pc);
  }
  RegisterFile regs(16);
  regs[13] = 0x20003f00;
  regs[14] = 0x11f;
  regs[15] = 0x860;
  auto pcs = (*info)->unwind(regs, [](std::uint64_t, std::size_t size, std::uint8_t* out) {
    std::memset(out, 0xa5, size);
    return true;
  });
  EXPECT_GE(pcs.size(), 1U);
}

}  // namespace
}  // namespace mpheap::target::elf
