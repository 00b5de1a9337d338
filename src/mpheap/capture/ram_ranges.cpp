// The chip RAM table and the choice of what `capture repl` reads.
#include "mpheap/capture/ram_ranges.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace mpheap::capture {
namespace {

// Main SRAM, where MicroPython's .data, .bss, heap and stack live (datasheets; the smallest
// variant of a family where they differ). Order matters: the first match wins.
// PSRAM windows (data bus): ESP32 0x3F800000 (4 MiB), ESP32-S2 0x3F500000..0x3FF80000, ESP32-S3
// 0x3C000000..0x3E000000 (shared with mapped flash), RP2350 XIP chip select 1 at 0x11000000.
constexpr std::array<ChipRam, 15> kChips{{
    {"RP2350", "RP2350", {0x20000000, 0x20082000}, {0x11000000, 0x12000000}},  // 520 KiB, SRAM0-9
    {"RP2040", "RP2040", {0x20000000, 0x20042000}},                            // 264 KiB, SRAM0-5
    {"nRF52840", "nRF52840", {0x20000000, 0x20040000}},                        // 256 KiB
    {"nRF52832", "nRF52832", {0x20000000, 0x20010000}},                        // 64 KiB
    {"nRF51", "nRF51822", {0x20000000, 0x20004000}},     // 16 KiB (micro:bit v1)
    {"microbit", "nRF51822", {0x20000000, 0x20004000}},  // MicroPython 1.9's sys.platform
    {"STM32F4", "STM32F4", {0x20000000, 0x20020000}},    // 128 KiB SRAM1+2 (F405/F411: 128)
    {"STM32F7", "STM32F7", {0x20000000, 0x20050000}},    // 320 KiB DTCM+SRAM1+2 (F746)
    {"STM32H7", "STM32H7", {0x24000000, 0x24080000}},    // 512 KiB AXI SRAM
    {"SAMD21", "SAMD21", {0x20000000, 0x20008000}},      // 32 KiB
    {"SAMD51", "SAMD51", {0x20000000, 0x20030000}},      // 192 KiB (J19)
    {"ESP32S3", "ESP32-S3", {0x3fc88000, 0x3fd00000}, {0x3c000000, 0x3e000000}},  // 480 KiB
    {"ESP32S2", "ESP32-S2", {0x3ffb0000, 0x40000000}, {0x3f500000, 0x3ff80000}},  // 320 KiB
    {"ESP32C3", "ESP32-C3", {0x3fc80000, 0x3fce0000}},  // 384 KiB internal DRAM
    {"ESP32", "ESP32", {0x3ffae000, 0x40000000}, {0x3f800000, 0x3fc00000}},  // 328 KiB
}};

bool inside(const RamRange& r, const std::vector<RamRange>& known) {
  for (const RamRange& k : known)
    if (r.start >= k.start && r.end <= k.end) return true;
  return false;
}

std::string ranges_text(const std::vector<RamRange>& known) {
  std::string out;
  for (const RamRange& k : known)
    out += fmt::format("{}{:#x}:{:#x}", out.empty() ? "" : ", ", k.start, k.end);
  return out;
}

}  // namespace

std::span<const ChipRam> chip_ram_table() {
  return kChips;
}

std::vector<RamRange> ram_of(const target::Target& t) {
  std::vector<RamRange> out;
  for (const target::MemoryRegion& r : t.regions) {
    using K = target::RegionKind;
    if (r.kind == K::ram || r.kind == K::data || r.kind == K::bss || r.kind == K::stack ||
        r.kind == K::heap)
      out.push_back({r.start, r.end});
  }
  std::sort(out.begin(), out.end(),
            [](const RamRange& x, const RamRange& y) { return x.start < y.start; });
  std::vector<RamRange> merged;
  for (const RamRange& r : out) {
    if (!merged.empty() && r.start <= merged.back().end)
      merged.back().end = std::max(merged.back().end, r.end);
    else
      merged.push_back(r);
  }
  return merged;
}

const ChipRam* chip_for(std::string_view machine, std::string_view platform) {
  for (const ChipRam& c : kChips) {
    // "ESP32" must not take an ESP32-S3 ("ESP32S3 module"): longer names come first.
    if (machine.find(c.match) != std::string_view::npos ||
        platform.find(c.match) != std::string_view::npos)
      return &c;
  }
  return nullptr;
}

std::string heap_outside_hint(const ChipRam* chip, std::uint64_t address) {
  if (chip != nullptr && chip->psram_window.end > chip->psram_window.start &&
      address >= chip->psram_window.start && address < chip->psram_window.end)
    return fmt::format(
        "the heap is in the {}'s external PSRAM (window {:#x}..{:#x}): give --ram for its "
        "internal RAM ({:#x}:{:#x}) and --ram for the PSRAM the heap uses, with "
        "--unchecked-ram (mpheap cannot know how much PSRAM is fitted; reading past it faults)",
        chip->chip, chip->psram_window.start, chip->psram_window.end, chip->ram.start,
        chip->ram.end);
  return "read the RAM around it (--ram), or give the firmware's --elf";
}

Expected<RamChoice> choose_ram(std::vector<RamRange> asked, const std::vector<RamRange>& known,
                               const std::vector<RamRange>& fallback, const std::string& why,
                               bool unchecked) {
  std::sort(asked.begin(), asked.end(),
            [](const RamRange& x, const RamRange& y) { return x.start < y.start; });
  for (std::size_t i = 0; i < asked.size(); ++i) {
    if (asked[i].end <= asked[i].start)
      return Error{"--ram", 0, 0,
                   fmt::format("empty range {:#x}:{:#x}", asked[i].start, asked[i].end),
                   ErrorKind::usage};
    if (i > 0 && asked[i].start < asked[i - 1].end)
      return Error{"--ram", 0, 0,
                   fmt::format("{:#x}:{:#x} overlaps {:#x}:{:#x}; give ranges apart (or one "
                               "that covers both)",
                               asked[i].start, asked[i].end, asked[i - 1].start, asked[i - 1].end),
                   ErrorKind::usage};
  }
  if (!asked.empty() && unchecked) return RamChoice{asked, "given (--unchecked-ram: not checked)"};
  if (known.empty())
    return Error{"--ram", 0, 0,
                 fmt::format("{}: nothing says where this board's RAM is, and reading memory that "
                             "is not RAM resets most chips; give the firmware's --elf (or "
                             "--map, --firmware with RAM), or --ram START:END with "
                             "--unchecked-ram if you know it",
                             why),
                 ErrorKind::unsupported};
  if (!asked.empty()) {
    for (const RamRange& a : asked)
      if (!inside(a, known))
        return Error{"--ram", 0, 0,
                     fmt::format("{:#x}:{:#x} is not inside the RAM {} says this board has ({}); "
                                 "reading outside RAM resets most chips. Give a range inside it, "
                                 "or add --unchecked-ram if you know better",
                                 a.start, a.end, why, ranges_text(known)),
                     ErrorKind::bad_input};
    return RamChoice{asked, fmt::format("given, inside {}'s RAM", why)};
  }
  if (!fallback.empty()) return RamChoice{fallback, fmt::format("all RAM {} names", why)};
  // All the RAM the description names: the heap, .data/.bss and the stack may lie in different
  // regions (an STM32H7 has .bss in DTCM and the heap in AXI SRAM).
  std::vector<RamRange> all = known;
  std::sort(all.begin(), all.end(),
            [](const RamRange& x, const RamRange& y) { return x.start < y.start; });
  return RamChoice{all, fmt::format("all RAM {} names", why)};
}

}  // namespace mpheap::capture
