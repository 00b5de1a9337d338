// What capture repl reads: the chip table, the choice among given, described and table RAM, and
// what it says when the heap lies elsewhere (PSRAM).
#include "mpheap/capture/ram_ranges.h"

#include <gtest/gtest.h>

namespace mpheap::capture {
namespace {

TEST(RamRanges, ChipsAreFoundByTheirNames) {
  // sys.implementation._machine strings as the ports print them.
  const ChipRam* s3 = chip_for("ESP32S3 module (spiram octal) with ESP32S3", "esp32");
  ASSERT_NE(s3, nullptr);
  EXPECT_EQ(s3->chip, "ESP32-S3");  // not the plain ESP32 row
  const ChipRam* pico = chip_for("Raspberry Pi Pico with RP2040", "rp2");
  ASSERT_NE(pico, nullptr);
  EXPECT_EQ(pico->ram.end, 0x20042000u);
  const ChipRam* old = chip_for("-", "microbit");  // MicroPython 1.9: no _machine
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(old->ram.end - old->ram.start, 0x4000u);
  EXPECT_EQ(chip_for("Some board with FOO42", "foo"), nullptr);
}

TEST(RamRanges, GivenRangesMustLieInKnownRamAndApart) {
  const std::vector<RamRange> known{{0x20000000, 0x20010000}, {0x24000000, 0x24080000}};
  auto two =
      choose_ram({{0x24000000, 0x24001000}, {0x20000000, 0x20000100}}, known, {}, "the ELF", false);
  ASSERT_TRUE(two) << two.error().message();
  ASSERT_EQ(two->ranges.size(), 2u);
  EXPECT_EQ(two->ranges[0].start, 0x20000000u);  // in address order
  EXPECT_EQ(two->rule, "given, inside the ELF's RAM");
  auto outside = choose_ram({{0x20000000, 0x20020000}}, known, {}, "the ELF", false);
  ASSERT_FALSE(outside);
  EXPECT_NE(outside.error().what.find("0x20000000:0x20020000 is not inside the RAM the ELF says"),
            std::string::npos)
      << outside.error().what;
  auto overlap =
      choose_ram({{0x20000000, 0x20000200}, {0x20000100, 0x20000300}}, known, {}, "x", false);
  ASSERT_FALSE(overlap);
  EXPECT_NE(overlap.error().what.find("overlaps"), std::string::npos);
  EXPECT_EQ(overlap.error().kind, ErrorKind::usage);
  // Touching ranges are fine; --unchecked-ram takes what is given.
  EXPECT_TRUE(
      choose_ram({{0x20000000, 0x20000100}, {0x20000100, 0x20000200}}, known, {}, "x", false));
  auto psram = choose_ram({{0x3c000000, 0x3c800000}}, {}, {}, "the chip table", true);
  ASSERT_TRUE(psram);
  EXPECT_EQ(psram->rule, "given (--unchecked-ram: not checked)");
}

TEST(RamRanges, WithNothingGivenAllTheDescribedRam) {
  const std::vector<RamRange> known{{0x24000000, 0x24080000}, {0x20000000, 0x20010000}};
  auto all = choose_ram({}, known, {}, "the ELF", false);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->ranges.size(), 2u);  // .bss in DTCM and the heap in AXI SRAM: both
  EXPECT_EQ(all->ranges[0].start, 0x20000000u);
  EXPECT_EQ(all->rule, "all RAM the ELF names");
  auto fallback = choose_ram({}, known, {{0x20000000, 0x20010000}}, "the table", false);
  ASSERT_TRUE(fallback);
  ASSERT_EQ(fallback->ranges.size(), 1u);
  auto nothing =
      choose_ram({}, {}, {}, "the board ('x', sys.platform 'y') is not in the table", false);
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().kind, ErrorKind::unsupported);
}

TEST(RamRanges, AHeapInPsramIsNamed) {
  const ChipRam* s3 = chip_for("ESP32S3 module (spiram octal) with ESP32S3", "esp32");
  const std::string hint = heap_outside_hint(s3, 0x3c123450);
  EXPECT_NE(hint.find("the heap is in the ESP32-S3's external PSRAM (window "
                      "0x3c000000..0x3e000000)"),
            std::string::npos)
      << hint;
  EXPECT_NE(hint.find("--unchecked-ram"), std::string::npos);
  // Elsewhere, or a chip without PSRAM: read around it.
  EXPECT_EQ(heap_outside_hint(s3, 0x30000000),
            "read the RAM around it (--ram), or give the firmware's --elf");
  EXPECT_EQ(heap_outside_hint(chip_for("Raspberry Pi Pico with RP2040", "rp2"), 0x11000000),
            "read the RAM around it (--ram), or give the firmware's --elf");
}

}  // namespace
}  // namespace mpheap::capture
