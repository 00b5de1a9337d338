// Register values of a halted target, as gdb's `info registers` prints them:
//   r0             0x95                149
//   sp             0x20003e18          0x20003e18
// one register per line, its name, its value in hex, then gdb's natural rendering (ignored).
// Composite registers (`{...}`, vector registers of `info all-registers`) and `(gdb)` prompt
// lines are skipped; anything else that is not NAME VALUE is an error naming its line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/util/error.h"

namespace mpheap::io {

struct Register {
  std::string name;  // "r4", "sp", "rsp"
  std::uint64_t value = 0;
};

Expected<std::vector<Register>> parse_registers(std::string_view text,
                                                const std::string& source = "<registers>");

// The registers of a gdb remote `g` reply (hex bytes of every register in the target's order,
// `xx` for one not available) for the machines whose leading registers gdb's target
// descriptions fix: "ARM" (r0..r12, sp, lr, pc), "x86-64" (rax, rbx, rcx, rdx, rsi, rdi, rbp,
// rsp, r8..r15, rip), "AArch64" (x0..x30, sp, pc), "RISC-V" (x0..x31 as zero, ra, sp, ...,
// then pc; `word_size` 4 or 8). Registers past those are left out; an unknown machine is an
// error.
Expected<std::vector<Register>> registers_from_g_reply(std::string_view hex,
                                                       std::string_view machine,
                                                       std::uint32_t word_size, bool little_endian);

// The stack pointer among them: sp (ARM, AArch64, RISC-V), rsp (x86-64), esp (x86) or a1
// (Xtensa's windowed stack pointer).
std::optional<std::uint64_t> stack_pointer(const std::vector<Register>& registers);

}  // namespace mpheap::io
