// Before a capture stops the target anywhere, check that the running firmware is the ELF the
// user gave: the code bytes at the functions the capture uses, read from the target, must be
// the ELF's. A wrong ELF would put breakpoints in the middle of other code and name every stop
// wrongly; one message says so instead.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "mpheap/capture/rsp_client.h"
#include "mpheap/target/elf_image.h"
#include "mpheap/util/error.h"

namespace mpheap::capture {

// A place in the ELF's code: a function's link-time address and its name, for the message.
struct CodeProbe {
  std::string name;
  std::uint64_t address = 0;
};

// Bytes compared at each probe.
inline constexpr std::uint64_t kCodeProbeBytes = 16;

// Reads kCodeProbeBytes at each probe (+ load_bias) from the halted or running target and
// compares them with the ELF's bytes there. An error of kind bad_input names the first probe
// that differs with both byte strings; a probe the ELF has no bytes for (not in a loaded
// segment) is skipped; an error of the link is returned as it is.
Expected<bool> check_running_code(RspClient& client, const target::elf::ElfImage& elf,
                                  std::span<const CodeProbe> probes, std::uint64_t load_bias = 0);

// Run-time minus link-time addresses of the running program: 0 for a program linked where it
// runs (firmware); for a position-independent one, from the stub's auxiliary vector (AT_ENTRY
// against the ELF's entry; gdbserver). An error when the stub does not say.
Expected<std::uint64_t> running_load_bias(RspClient& client, const target::elf::ElfImage& elf);

}  // namespace mpheap::capture
