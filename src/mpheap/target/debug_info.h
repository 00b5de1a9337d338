// What a debugger knows about a stopped program, from its ELF alone: the call chain unwound
// offline with the call frame information (.eh_frame / .debug_frame), each return address named
// as function, file:line and the inlined calls at it (DWARF inline entries), and the value of a
// function's parameter at a pc from its DWARF location. The native tracer (capture/) reads the
// registers and one window of stack memory per stop and asks this for the rest, so no request
// crosses the link per frame.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/target/elf_image.h"
#include "mpheap/util/error.h"

namespace mpheap::target::elf {

// Register values by DWARF register number (x86-64: 0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi, 5 rdi,
// 6 rbp, 7 rsp, 8..15 r8..r15, 16 rip; ARM: 0..15 r0..r15), nullopt when not known.
using RegisterFile = std::vector<std::optional<std::uint64_t>>;

// Reads `size` bytes of target memory at `address` into `out`; false when it cannot.
using MemoryReader =
    std::function<bool(std::uint64_t address, std::size_t size, std::uint8_t* out)>;

// One frame as gdb's backtrace prints it.
struct SourceFrame {
  std::uint64_t pc = 0;  // run-time address: the stop's pc innermost, else the return address
  std::string function;  // "??" when no symbol or DWARF subprogram covers it
  std::string file;      // the line table's name for the file, "" when unknown
  int line = 0;          // 0 when unknown
  bool inlined = false;  // a call inlined into the next frame out (gdb prints no address)
  // A Python frame (the native tracer's): `function` the Python function ("?? (why)" when it
  // could not be named), `file` and `line` its source; `pc` 0.
  bool python = false;
};

// A parameter's value, or why there is none ("optimized out", "no location at this pc").
struct ParameterValue {
  std::optional<std::uint64_t> value;
  std::string missing;
};

class DebugInfo {
 public:
  // `elf` must outlive this. `load_bias`: run-time minus link-time addresses (a PIE under
  // gdbserver: 0x555555554000; firmware: 0). An error when the ELF has neither CFI nor DWARF.
  static Expected<std::unique_ptr<DebugInfo>> open(const ElfImage& elf, std::uint64_t load_bias);
  ~DebugInfo();
  DebugInfo(const DebugInfo&) = delete;
  DebugInfo& operator=(const DebugInfo&) = delete;

  // The DWARF register numbers of the registers of a `g` reply, in reply order, for the ELF's
  // machine (the order io::registers_from_g_reply documents), and of the pc and stack pointer.
  [[nodiscard]] RegisterFile registers_from_g_reply(std::string_view hex) const;
  [[nodiscard]] int pc_register() const;
  [[nodiscard]] int sp_register() const;

  // The pcs of the call chain, innermost first (the stop's pc, then each return address), at
  // most `max_frames`; the chain ends where the CFI says the return address is undefined, at a
  // pc outside the ELF's code, or when memory cannot be read (`read` is asked for each word;
  // the caller serves it from a window read once per stop). Between two of them come the frames
  // gdb shows for tail calls (a caller that jumped to its callee, so it has no stack frame),
  // found from the DWARF call-site entries when exactly one chain of them fits: their pcs are
  // the call sites' return addresses, as gdb prints them.
  [[nodiscard]] std::vector<std::uint64_t> unwind(const RegisterFile& registers,
                                                  const MemoryReader& read,
                                                  std::size_t max_frames = 256) const;

  // The same chain with each frame's registers as the CFI restores them (what that frame saw at
  // its pc: the callee-saved registers and sp; the others nullopt). A tail-call frame has none.
  struct UnwoundFrame {
    std::uint64_t pc = 0;
    RegisterFile registers;  // empty for a tail-call frame
  };
  [[nodiscard]] std::vector<UnwoundFrame> unwind_frames(const RegisterFile& registers,
                                                        const MemoryReader& read,
                                                        std::size_t max_frames = 256) const;

  // The frames at one pc, innermost (inlined) first and the containing function last, named as
  // gdb names them. `return_address`: the pc is a caller's return address, so its call
  // instruction (pc - 1) is what is described. Results are cached per pc.
  [[nodiscard]] const std::vector<SourceFrame>& describe(std::uint64_t pc, bool return_address);

  // The value of parameter number `index` (0-based, in declaration order) of the function whose
  // code holds `pc`, at `pc`, from its DWARF location (registers, the frame base / CFA, memory).
  // `return_address`: `pc` is a caller's return address (an outer frame of unwind_frames, with
  // that frame's registers): the location at its call instruction is used.
  [[nodiscard]] ParameterValue parameter(std::uint64_t pc, int index, const RegisterFile& registers,
                                         const MemoryReader& read,
                                         bool return_address = false) const;
  // The same for frame `i` of an unwind_frames chain (an outer frame's pc being a return
  // address). A parameter whose location there is its value at entry (DW_OP_entry_value of a
  // register: the compiler kept no copy) is found as gdb finds it: at the caller's call site,
  // from the DW_AT_call_value of its call-site parameter for that register, evaluated with the
  // caller's registers.
  [[nodiscard]] ParameterValue parameter(std::span<const UnwoundFrame> frames, std::size_t i,
                                         int index, const MemoryReader& read) const;
  // The number of parameters the function at `pc` declares, nullopt without DWARF for it.
  [[nodiscard]] std::optional<int> parameter_count(std::uint64_t pc) const;

 private:
  DebugInfo();
  // The value register `regno` had when frame `i - 1` was entered, from the call site in frame
  // `i` (its caller) that frame `i - 1` returns to.
  [[nodiscard]] std::optional<std::uint64_t> entry_value(std::span<const UnwoundFrame> frames,
                                                         std::size_t i, std::uint64_t regno,
                                                         const MemoryReader& read, int depth) const;
  [[nodiscard]] ParameterValue parameter_at(
      std::uint64_t pc, int index, const RegisterFile& registers, const MemoryReader& read,
      bool return_address,
      const std::function<std::optional<std::uint64_t>(std::uint64_t)>* entry_register) const;
  [[nodiscard]] ParameterValue parameter_in(std::span<const UnwoundFrame> frames, std::size_t i,
                                            int index, const MemoryReader& read, int depth) const;
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace mpheap::target::elf
