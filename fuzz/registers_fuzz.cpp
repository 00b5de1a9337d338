// libFuzzer target for register files (gdb's `info registers` output, read by mpheap heap
// --regs): every register parsed has a name, and a failure names a line inside the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mpheap/io/registers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto regs = mpheap::io::parse_registers(text, "fuzz.txt");
  if (!regs) {
    std::size_t lines = 1;
    for (char c : text) lines += c == '\n' ? 1 : 0;
    if (regs.error().line > lines) __builtin_trap();
    (void)regs.error().message();
    return 0;
  }
  for (const mpheap::io::Register& r : *regs)
    if (r.name.empty()) __builtin_trap();
  (void)mpheap::io::stack_pointer(*regs);
  return 0;
}
