// Compares the target's code with the ELF's at a few functions.
#include "mpheap/capture/elf_check.h"

#include <fmt/format.h>
#include <gelf.h>

#include <array>
#include <string_view>

namespace mpheap::capture {
namespace {

std::string hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) fmt::format_to(std::back_inserter(out), "{:02x}", c);
  return out;
}

}  // namespace

Expected<bool> check_running_code(RspClient& client, const target::elf::ElfImage& elf,
                                  std::span<const CodeProbe> probes, std::uint64_t load_bias) {
  std::size_t compared = 0;
  for (const CodeProbe& p : probes) {
    auto want = elf.bytes_at(p.address, kCodeProbeBytes);
    if (!want) continue;
    std::array<std::uint8_t, kCodeProbeBytes> got{};
    auto read = client.read_memory(p.address + load_bias, got.size(), got.data());
    if (!read) return read.error();
    const std::string_view have(reinterpret_cast<const char*>(got.data()), got.size());
    if (have != *want) {
      return Error{elf.name(), 0, 0,
                   fmt::format("the running firmware is not this ELF: at {} ({:#x}) the ELF has "
                               "{} but the target has {}; give the ELF of the firmware that "
                               "runs (the one built with it), or flash this one",
                               p.name, p.address + load_bias, hex(*want), hex(have))};
    }
    ++compared;
  }
  if (compared == 0 && !probes.empty())
    return Error{elf.name(), 0, 0,
                 fmt::format("cannot check that the running firmware is this ELF: none of the "
                             "{} function(s) it breaks at ({}...) has code bytes in the ELF's "
                             "loaded segments",
                             probes.size(), probes.front().name)};
  return true;
}

Expected<std::uint64_t> running_load_bias(RspClient& client, const target::elf::ElfImage& elf) {
  GElf_Ehdr ehdr{};
  if (gelf_getehdr(elf.elf(), &ehdr) == nullptr || ehdr.e_type != ET_DYN) return 0;
  constexpr std::uint64_t kAtEntry = 9;
  std::string auxv;
  bool complete = false;
  for (int guard = 0; guard < 64 && !complete; ++guard) {
    auto reply =
        client.request(fmt::format("qXfer:auxv:read::{:x},{:x}", auxv.size(), 0x800), true);
    if (!reply) return reply.error();
    if (reply->empty() || ((*reply)[0] != 'm' && (*reply)[0] != 'l')) break;
    auxv.append(reply->substr(1));
    complete = (*reply)[0] == 'l';
  }
  auto entry = rsp::auxv_value(auxv, kAtEntry, elf.word_size(), elf.little_endian());
  if (!entry)
    return Error{elf.name(), 0, 0,
                 "is position-independent and the gdb server does not say where it is loaded "
                 "(no auxiliary vector): give --load-bias"};
  return *entry - ehdr.e_entry;
}

}  // namespace mpheap::capture
