// libFuzzer target for DebugInfo on the stock MicroPython 1.28 unix ELF: the input is a `g` reply
// (outside data from a gdb stub) and the stack memory at its sp. Any input must unwind to at
// most max_frames pcs, the stop's pc first, name each one and evaluate parameters without
// reading outside what the reader serves.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include "mpheap/target/debug_info.h"

namespace {

struct Fixture {
  std::unique_ptr<mpheap::target::elf::ElfImage> elf;
  std::unique_ptr<mpheap::target::elf::DebugInfo> info;
};

Fixture& fixture() {
  static Fixture f = [] {
    Fixture out;
    const std::string path = std::string(MPHEAP_FUZZ_DATA) + "/stock-v1.28/unix-x64/micropython";
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    auto elf = mpheap::target::elf::ElfImage::open(ss.str(), path);
    if (!elf) __builtin_trap();
    out.elf = std::move(*elf);
    auto info = mpheap::target::elf::DebugInfo::open(*out.elf, 0x555555554000);
    if (!info) __builtin_trap();
    out.info = std::move(*info);
    return out;
  }();
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  // First byte: how much of the rest is the `g` reply (in units of 4 characters).
  if (size == 0) return 0;
  const std::size_t g_size = std::min<std::size_t>(size - 1, std::size_t{data[0]} * 4);
  std::string_view g(reinterpret_cast<const char*>(data + 1), g_size);
  const std::uint8_t* stack = data + 1 + g_size;
  const std::size_t stack_size = size - 1 - g_size;
  auto regs = f.info->registers_from_g_reply(g);
  const std::uint64_t sp = regs.size() > 7 ? regs[7].value_or(0) : 0;
  auto read = [&](std::uint64_t address, std::size_t n, std::uint8_t* out) {
    if (address < sp || address - sp > stack_size || n > stack_size - (address - sp)) return false;
    std::memcpy(out, stack + (address - sp), n);
    return true;
  };
  const std::size_t max_frames = 32;
  auto pcs = f.info->unwind(regs, read, max_frames);
  if (pcs.size() > max_frames) __builtin_trap();
  if (!pcs.empty() && (regs.size() <= 16 || !regs[16] || pcs[0] != *regs[16])) __builtin_trap();
  for (std::size_t i = 0; i < pcs.size(); ++i) {
    const auto& frames = f.info->describe(pcs[i], i > 0);
    if (frames.empty()) __builtin_trap();
  }
  if (!pcs.empty()) {
    for (int p = 0; p < 3; ++p) {
      auto v = f.info->parameter(pcs[0], p, regs, read);
      if (!v.value && v.missing.empty()) __builtin_trap();
    }
    (void)f.info->parameter_count(pcs[0]);
  }
  // Every frame's parameters through the chain, entry values from the callers' call sites
  // included: a value or a reason.
  auto chain = f.info->unwind_frames(regs, read, max_frames);
  if (chain.size() != pcs.size()) __builtin_trap();
  for (std::size_t i = 0; i < chain.size(); ++i)
    for (int p = 0; p < 2; ++p) {
      auto v = f.info->parameter(chain, i, p, read);
      if (!v.value && v.missing.empty()) __builtin_trap();
    }
  return 0;
}
