// ELF program headers without libelf: see elf_segments.h.
#include "mpheap/io/elf_segments.h"

#include <fmt/format.h>

namespace mpheap::io {
namespace {

constexpr std::uint32_t kPtLoad = 1;
constexpr std::uint64_t kMaxSegments = 256;

struct Reader {
  std::string_view b;
  bool little;
  [[nodiscard]] std::uint64_t u(std::uint64_t at, std::uint32_t n) const {
    std::uint64_t v = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
      auto byte = static_cast<std::uint8_t>(b[at + i]);
      v |= static_cast<std::uint64_t>(byte) << (8 * (little ? i : n - 1 - i));
    }
    return v;
  }
};

}  // namespace

bool looks_like_elf(std::string_view bytes) {
  return bytes.size() >= 52 &&
         bytes.substr(0, 4) ==
             "\x7f"
             "ELF" &&
         (bytes[4] == 1 || bytes[4] == 2) && (bytes[5] == 1 || bytes[5] == 2) && bytes[6] == 1;
}

Expected<ElfSegments> read_elf_segments(std::string_view bytes, const std::string& name,
                                        std::uint64_t base_offset) {
  auto fail = [&](std::uint64_t at, std::string what) {
    return Error{name, 0, base_offset + at, std::move(what)};
  };
  if (!looks_like_elf(bytes))
    return fail(0, "expected an ELF header (\\x7fELF, class 1 or 2, data 1 or 2, version 1)");
  ElfSegments out;
  const bool is64 = bytes[4] == 2;
  out.word_size = is64 ? 8 : 4;
  out.little_endian = bytes[5] == 1;
  Reader r{bytes, out.little_endian};
  const std::uint64_t header_size = is64 ? 64 : 52;
  if (bytes.size() < header_size)
    return fail(0, fmt::format("truncated ELF header: expected {} bytes, found {}", header_size,
                               bytes.size()));
  out.machine = static_cast<std::uint16_t>(r.u(18, 2));
  out.entry = r.u(24, is64 ? 8 : 4);
  const std::uint64_t phoff = r.u(is64 ? 32 : 28, is64 ? 8 : 4);
  const std::uint64_t phentsize = r.u(is64 ? 54 : 42, 2);
  const std::uint64_t phnum = r.u(is64 ? 56 : 44, 2);
  out.section_count = static_cast<std::uint16_t>(r.u(is64 ? 60 : 48, 2));
  const std::uint64_t want_entsize = is64 ? 56 : 32;
  if (phnum == 0)
    return fail(is64 ? 56 : 44,
                "the ELF has no program headers (e_phnum 0): nothing says where "
                "its bytes are loaded");
  if (phentsize != want_entsize)
    return fail(is64 ? 54 : 42,
                fmt::format("expected e_phentsize {}, found {}", want_entsize, phentsize));
  if (phnum > kMaxSegments)
    return fail(is64 ? 56 : 44,
                fmt::format("expected at most {} program headers, found {}", kMaxSegments, phnum));
  if (phoff > bytes.size() || phnum * phentsize > bytes.size() - phoff)
    return fail(is64 ? 32 : 28,
                fmt::format("truncated ELF: the program header table ({} entries at offset {}) "
                            "ends past the {} bytes there",
                            phnum, base_offset + phoff, bytes.size()));
  for (std::uint64_t i = 0; i < phnum; ++i) {
    const std::uint64_t at = phoff + i * phentsize;
    if (r.u(at, 4) != kPtLoad) continue;
    ElfLoadSegment s;
    if (is64) {
      s.flags = static_cast<std::uint32_t>(r.u(at + 4, 4));
      s.offset = r.u(at + 8, 8);
      s.vaddr = r.u(at + 16, 8);
      s.filesz = r.u(at + 32, 8);
      s.memsz = r.u(at + 40, 8);
    } else {
      s.offset = r.u(at + 4, 4);
      s.vaddr = r.u(at + 8, 4);
      s.filesz = r.u(at + 16, 4);
      s.memsz = r.u(at + 20, 4);
      s.flags = static_cast<std::uint32_t>(r.u(at + 24, 4));
    }
    if (s.filesz == 0) continue;
    if (s.offset > bytes.size() || s.filesz > bytes.size() - s.offset)
      return fail(at, fmt::format("truncated ELF: program header {} says {} bytes at file offset "
                                  "{}, but the file has {} bytes there",
                                  i, s.filesz, base_offset + s.offset, bytes.size()));
    if (s.vaddr + s.filesz < s.vaddr || (!is64 && s.vaddr + s.filesz > (1ULL << 32)))
      return fail(at, fmt::format("program header {}: {} bytes at 0x{:x} run past the end of the "
                                  "address space",
                                  i, s.filesz, s.vaddr));
    const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data() + s.offset);
    auto added =
        out.image.add_apart(MemoryRange{s.vaddr, std::vector<std::uint8_t>(p, p + s.filesz), name});
    if (!added)
      return fail(at, fmt::format("program header {} overlaps another loadable segment: {}", i,
                                  added.error().what));
    out.loads.push_back(s);
  }
  if (out.loads.empty()) return fail(phoff, "no loadable segment (PT_LOAD) with bytes in the file");
  return out;
}

std::optional<std::uint64_t> find_embedded_elf(std::string_view bytes) {
  for (std::size_t at = bytes.find("\x7f"
                                   "ELF",
                                   1);
       at != std::string_view::npos; at = bytes.find("\x7f"
                                                     "ELF",
                                                     at + 1)) {
    if (at % 4 != 0) continue;
    std::string_view rest = bytes.substr(at);
    if (looks_like_elf(rest) && read_elf_segments(rest, "", at)) return at;
  }
  return std::nullopt;
}

std::string elf_machine_name(std::uint16_t machine) {
  switch (machine) {
    case 3:
      return "x86";
    case 8:
      return "MIPS";
    case 40:
      return "ARM";
    case 62:
      return "x86-64";
    case 94:
      return "Xtensa";
    case 183:
      return "AArch64";
    case 243:
      return "RISC-V";
    default:
      return fmt::format("machine {}", machine);
  }
}

}  // namespace mpheap::io
