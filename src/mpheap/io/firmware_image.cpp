// Intel HEX, UF2 and raw firmware images.
#include "mpheap/io/firmware_image.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "mpheap/io/elf_segments.h"
#include "mpheap/io/file.h"
#include "mpheap/io/wasm_module.h"

namespace mpheap::io {
namespace {

struct Chunk {
  std::uint64_t address = 0;
  std::vector<std::uint8_t> bytes;
};

// Joins chunks (in file order) into non-overlapping ranges; later chunks win where they overlap.
MemoryImage join(std::vector<Chunk> chunks, const std::string& name) {
  std::stable_sort(chunks.begin(), chunks.end(),
                   [](const Chunk& a, const Chunk& b) { return a.address < b.address; });
  MemoryImage image;
  MemoryRange cur;
  bool open = false;
  for (Chunk& c : chunks) {
    if (c.bytes.empty()) continue;
    if (open && c.address <= cur.end()) {
      std::uint64_t at = c.address - cur.address;
      std::uint64_t end = at + c.bytes.size();
      if (end > cur.bytes.size()) cur.bytes.resize(end);
      std::copy(c.bytes.begin(), c.bytes.end(),
                cur.bytes.begin() + static_cast<std::ptrdiff_t>(at));
      continue;
    }
    if (open) image.add(std::move(cur));
    cur = MemoryRange{c.address, std::move(c.bytes), name};
    open = true;
  }
  if (open) image.add(std::move(cur));
  return image;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::uint32_t le32(std::string_view b, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(b[at + i])) << (8 * i);
  return v;
}

constexpr std::uint32_t kUf2Magic0 = 0x0A324655, kUf2Magic1 = 0x9E5D5157, kUf2MagicEnd = 0x0AB16F30;
constexpr std::uint32_t kUf2NotMainFlash = 0x1;
constexpr std::size_t kUf2Block = 512, kUf2MaxPayload = 476;

// The ELF at file offset `at` of `bytes` (0: the file is the ELF; else inside a container).
Expected<LoadedImage> read_elf_image(std::string_view bytes, const std::string& name,
                                     std::uint64_t at) {
  auto elf = read_elf_segments(bytes.substr(at), name, at);
  if (!elf) return elf.error();
  LoadedImage out;
  out.format = ImageFormat::elf;
  out.file_offset = at;
  out.elf_machine = elf->machine;
  out.word_size = elf->word_size;
  out.little_endian = elf->little_endian;
  std::string segments;
  for (const ElfLoadSegment& s : elf->loads)
    segments += fmt::format("{}0x{:x}..0x{:x} (file offset 0x{:x})", segments.empty() ? "" : ", ",
                            s.vaddr, s.vaddr + s.filesz, at + s.offset);
  const std::string kind =
      fmt::format("{}-bit {} ELF{}", elf->word_size * 8, elf_machine_name(elf->machine),
                  elf->section_count == 0 ? " without section headers" : "");
  if (at == 0) {
    out.note = fmt::format("{}, read by its program headers: {}", kind, segments);
  } else {
    out.note = fmt::format(
        "a container: not an image itself (bytes 0x0..0x{:x} are something else, e.g. a boot "
        "loader), but a {} starts at file offset 0x{:x}; read by its program headers: {}",
        at, kind, at, segments);
  }
  out.image = std::move(elf->image);
  return out;
}

}  // namespace

const char* to_string(ImageFormat format) {
  switch (format) {
    case ImageFormat::intel_hex:
      return "Intel HEX";
    case ImageFormat::uf2:
      return "UF2";
    case ImageFormat::raw:
      return "raw binary";
    case ImageFormat::wasm:
      return "WebAssembly module";
    case ImageFormat::elf:
      return "ELF (program headers)";
  }
  return "?";
}

Expected<MemoryImage> parse_intel_hex(std::string_view text, const std::string& name) {
  std::vector<Chunk> chunks;
  std::uint64_t upper = 0;  // from record 02 or 04
  std::uint64_t number = 0;
  bool ended = false;
  std::vector<std::uint8_t> rec;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    if (line.empty()) continue;
    auto fail = [&](std::string what) { return Error{name, number, 0, std::move(what)}; };
    if (ended) return fail("data after the end-of-file record (type 01)");
    if (line[0] != ':') return fail("expected an Intel HEX record starting with ':'");
    std::string_view digits = line.substr(1);
    if (digits.size() < 10 || digits.size() % 2 != 0)
      return fail(fmt::format("a record needs an even number of at least 10 hex digits, found {}",
                              digits.size()));
    rec.clear();
    for (std::size_t i = 0; i < digits.size(); i += 2) {
      int hi = hex_digit(digits[i]), lo = hex_digit(digits[i + 1]);
      if (hi < 0 || lo < 0)
        return fail(fmt::format("'{}' at column {} is not a hex digit",
                                hi < 0 ? digits[i] : digits[i + 1], i + (hi < 0 ? 2 : 3)));
      rec.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
    }
    std::size_t count = rec[0];
    if (rec.size() != count + 5)
      return fail(fmt::format("the record says {} data bytes but holds {}", count, rec.size() - 5));
    std::uint8_t sum = 0;
    for (std::uint8_t b : rec) sum = static_cast<std::uint8_t>(sum + b);
    if (sum != 0) {
      auto want = static_cast<std::uint8_t>(rec.back() - sum);
      return fail(fmt::format("checksum 0x{:02X} is wrong (expected 0x{:02X})", rec.back(), want));
    }
    std::uint64_t offset = (std::uint64_t{rec[1]} << 8) | rec[2];
    std::uint8_t type = rec[3];
    const std::uint8_t* data = rec.data() + 4;
    switch (type) {
      case 0x00:
        chunks.push_back(Chunk{upper + offset, std::vector<std::uint8_t>(data, data + count)});
        break;
      case 0x01:
        ended = true;
        break;
      case 0x02:
        if (count != 2) return fail("an extended segment address record (02) needs 2 data bytes");
        upper = ((std::uint64_t{data[0]} << 8) | data[1]) << 4;
        break;
      case 0x04:
        if (count != 2) return fail("an extended linear address record (04) needs 2 data bytes");
        upper = ((std::uint64_t{data[0]} << 8) | data[1]) << 16;
        break;
      case 0x03:
      case 0x05:
        if (count != 4)
          return fail(fmt::format("a start address record ({:02X}) needs 4 data bytes", type));
        break;
      default:
        return fail(
            fmt::format("unknown record type {:02X} (expected 00, 01, 02, 03, 04 or 05)", type));
    }
  }
  if (number == 0 || chunks.empty())
    return Error{name, number, 0, "no data records: not an Intel HEX image?"};
  return join(std::move(chunks), name);
}

Expected<MemoryImage> parse_uf2(std::string_view bytes, const std::string& name) {
  if (bytes.empty() || bytes.size() % kUf2Block != 0)
    return Error{
        name, 0, bytes.size() - bytes.size() % kUf2Block,
        fmt::format("a UF2 file is a whole number of 512-byte blocks; this one has {} bytes",
                    bytes.size())};
  std::vector<Chunk> chunks;
  for (std::size_t at = 0; at < bytes.size(); at += kUf2Block) {
    std::size_t block = at / kUf2Block;
    auto fail = [&](std::size_t offset, std::string what) {
      return Error{name, 0, at + offset, fmt::format("block {}: {}", block, what)};
    };
    if (le32(bytes, at) != kUf2Magic0 || le32(bytes, at + 4) != kUf2Magic1)
      return fail(0, "bad start magic (expected 0x0A324655 0x9E5D5157)");
    if (le32(bytes, at + 508) != kUf2MagicEnd)
      return fail(508, "bad end magic (expected 0x0AB16F30)");
    std::uint32_t flags = le32(bytes, at + 8);
    std::uint32_t address = le32(bytes, at + 12);
    std::uint32_t size = le32(bytes, at + 16);
    if (size > kUf2MaxPayload)
      return fail(16, fmt::format("payload size {} is more than 476 bytes", size));
    if ((flags & kUf2NotMainFlash) != 0) continue;
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data() + at + 32);
    chunks.push_back(Chunk{address, std::vector<std::uint8_t>(data, data + size)});
  }
  if (chunks.empty()) return Error{name, 0, 0, "no UF2 block holds main-flash data"};
  return join(std::move(chunks), name);
}

MemoryImage raw_image(std::string_view bytes, std::uint64_t base, const std::string& name) {
  MemoryImage image;
  image.add(MemoryRange{base, std::vector<std::uint8_t>(bytes.begin(), bytes.end()), name});
  return image;
}

ImageFormat detect_image_format(std::string_view bytes) {
  if (bytes.size() >= 8 && le32(bytes, 0) == kUf2Magic0 && le32(bytes, 4) == kUf2Magic1)
    return ImageFormat::uf2;
  if (is_wasm_module(bytes)) return ImageFormat::wasm;
  std::size_t i = 0;
  while (i < bytes.size() && i < 16 && (bytes[i] == ' ' || bytes[i] == '\r' || bytes[i] == '\n'))
    ++i;
  if (i < bytes.size() && bytes[i] == ':') return ImageFormat::intel_hex;
  if (looks_like_elf(bytes)) return ImageFormat::elf;
  return ImageFormat::raw;
}

Expected<LoadedImage> read_firmware_image(std::string_view bytes, const std::string& name,
                                          std::optional<std::uint64_t> base) {
  LoadedImage out;
  out.format = detect_image_format(bytes);
  if (base && out.format != ImageFormat::raw)
    return Error{name, 0, 0,
                 fmt::format("--base is for raw images; this is {}, which carries its addresses",
                             to_string(out.format))};
  switch (out.format) {
    case ImageFormat::intel_hex: {
      auto image = parse_intel_hex(bytes, name);
      if (!image) return image.error();
      out.image = std::move(*image);
      break;
    }
    case ImageFormat::uf2: {
      auto image = parse_uf2(bytes, name);
      if (!image) return image.error();
      out.image = std::move(*image);
      break;
    }
    case ImageFormat::wasm: {  // wasm_module.h: the active data segments at their addresses
      auto module = parse_wasm_module(bytes, name);
      if (!module) return module.error();
      out.image = wasm_memory_image(*module, bytes, name);
      break;
    }
    case ImageFormat::elf:
      return read_elf_image(bytes, name, 0);
    case ImageFormat::raw:
      if (bytes.empty()) return Error{name, 0, 0, "the image is empty"};
      if (!base) {
        if (auto at = find_embedded_elf(bytes)) return read_elf_image(bytes, name, *at);
        return Error{name, 0, 0,
                     "neither Intel HEX, UF2 nor ELF, and no ELF inside: a raw binary image needs "
                     "its load address (--base ADDR, e.g. 0x0 or 0x08000000)",
                     ErrorKind::not_found};
      }
      out.image = raw_image(bytes, *base, name);
      break;
  }
  return out;
}

Expected<LoadedImage> load_firmware_image(const std::string& path,
                                          std::optional<std::uint64_t> base) {
  auto bytes = read_whole_file(path);
  if (!bytes) return bytes.error();
  return read_firmware_image(*bytes, path, base);
}

}  // namespace mpheap::io
