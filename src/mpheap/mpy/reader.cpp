// Header dispatch, shared decoding helpers and the part names of the .mpy model.
#include "mpheap/mpy/reader.h"

#include <cerrno>
#include <cstdio>
#include <memory>

#include "mpheap/io/file.h"
#include "mpheap/mpy/cursor.h"
#include "mpheap/mpy/disasm.h"

namespace mpheap::mpy {

const char* part_name(Part p) {
  static constexpr const char* kNames[] = {"header",      "qstrs",       "constants",
                                           "code header", "prelude",     "line info",
                                           "bytecode",    "native code", "native links"};
  return kNames[static_cast<std::size_t>(p)];
}

const char* code_kind_name(CodeKind k) {
  static constexpr const char* kNames[] = {"bytecode", "native", "viper", "asm"};
  return kNames[static_cast<std::size_t>(k)];
}

const char* arch_name(std::uint8_t arch) {
  static constexpr const char* kNames[] = {
      "NONE",      "X86",       "X64",    "ARMV6",     "ARMV6M",  "ARMV7M", "ARMV7EM",
      "ARMV7EMSP", "ARMV7EMDP", "XTENSA", "XTENSAWIN", "RV32IMC", "RV64IMC"};
  return arch < std::size(kNames) ? kNames[arch] : "UNKNOWN";
}

std::uint64_t RawCode::own_size() const {
  std::uint64_t n = 0;
  for (auto s : sizes) n += s;
  return n;
}

BytecodeGen Header::gen() const {
  switch (version) {
    case 3:
      return BytecodeGen::V3;
    case 4:
      return BytecodeGen::V4;
    case 5:
      return BytecodeGen::V5;
    default:
      return BytecodeGen::V6;
  }
}

namespace detail {

void fail(std::uint64_t offset, std::string what) {
  throw ReadFailure{offset, std::move(what)};
}

std::uint64_t data_uint(std::span<const std::uint8_t> data, std::uint32_t* pos, std::uint64_t base,
                        std::string_view what) {
  std::uint64_t value = 0;
  for (int i = 0;; ++i) {
    if (*pos >= data.size())
      fail(base + *pos, std::string(what) + " expected, but the raw code ends");
    if (i == 5) fail(base + *pos, std::string(what) + ": var-uint longer than 5 bytes");
    std::uint8_t b = data[(*pos)++];
    value = (value << 7) | (b & 0x7fu);
    if ((b & 0x80u) == 0) return value;
  }
}

std::vector<LineEntry> decode_lines(std::span<const std::uint8_t> data, std::uint32_t begin,
                                    std::uint32_t end) {
  std::vector<LineEntry> lines;
  std::uint32_t bc = 0;
  std::uint32_t line = 1;
  std::uint32_t i = begin;
  while (i < end && data[i] != 0) {
    std::uint8_t c = data[i];
    if ((c & 0x80u) == 0) {
      bc += c & 0x1fu;
      line += c >> 5;
      i += 1;
    } else {
      if (i + 1 >= end) break;
      bc += c & 0x0fu;
      line += ((static_cast<std::uint32_t>(c) << 4) & 0x700u) | data[i + 1];
      i += 2;
    }
    lines.push_back({bc, line});
  }
  return lines;
}

void decode_compressed_prelude(std::span<const std::uint8_t> data, std::uint32_t* pos,
                               std::uint64_t base, Prelude* p) {
  auto next = [&](const char* what) -> std::uint32_t {
    if (*pos >= data.size())
      fail(base + *pos, std::string(what) + " expected, but the raw code ends");
    return data[(*pos)++];
  };
  // Signature: first byte xSSSSEAA, continuation bytes xFSSKAED, least significant first.
  std::uint32_t z = next("prelude signature");
  std::uint32_t s = (z >> 3) & 0xfu, e = (z >> 2) & 1u, f = 0, a = z & 3u, k = 0, d = 0;
  for (std::uint32_t n = 0; z & 0x80u; ++n) {
    if (n > 4) fail(base + *pos, "prelude signature longer than 6 bytes");
    z = next("prelude signature");
    s |= (z & 0x30u) << (2 * n);
    e |= (z & 0x02u) << n;
    f |= ((z & 0x40u) >> 6) << n;
    a |= (z & 0x04u) << n;
    k |= ((z & 0x08u) >> 3) << n;
    d |= (z & 0x01u) << n;
  }
  p->n_state = s + 1;
  p->n_exc_stack = e;
  p->scope_flags = f;
  p->n_pos_args = a;
  p->n_kwonly_args = k;
  p->n_def_pos_args = d;
  // Size: xIIIIIIC per byte.
  std::uint32_t info = 0, cell = 0;
  for (std::uint32_t n = 0;; ++n) {
    if (n > 4) fail(base + *pos, "prelude size longer than 5 bytes");
    z = next("prelude size");
    info |= ((z & 0x7eu) >> 1) << (6 * n);
    cell |= (z & 1u) << n;
    if ((z & 0x80u) == 0) break;
  }
  p->n_info = info;
  p->n_cell = cell;
}

}  // namespace detail

Expected<MpyFile> read_mpy(std::span<const std::uint8_t> bytes, std::string source) {
  MpyFile file;
  file.source = std::move(source);
  file.size = bytes.size();
  detail::Cursor in(bytes);
  in.charge_to(&file.sizes);
  try {
    auto magic = in.byte(Part::Header, "magic byte 'M' or 'C'");
    if (magic != 'M' && magic != 'C')
      detail::fail(0, "magic byte 'M' (MicroPython) or 'C' (CircuitPython) expected");
    file.header.magic = static_cast<char>(magic);
    file.header.version = in.byte(Part::Header, "version byte");
    file.header.feature_byte = in.byte(Part::Header, "feature byte");
    file.header.small_int_bits = in.byte(Part::Header, "small-int bits byte");
    switch (file.header.version) {
      case 3:
        detail::read_v3(in, file);
        break;
      case 4:
      case 5:
        detail::read_v4_v5(in, file);
        break;
      case 6:
        detail::read_v6(in, file);
        break;
      default:
        detail::fail(1,
                     "version 3, 4, 5 or 6 expected, found " + std::to_string(file.header.version));
    }
    if (in.left() != 0)
      detail::fail(in.pos(), std::to_string(in.left()) + " bytes after the module's raw code");
  } catch (const detail::ReadFailure& f) {
    return Error{file.source, 0, f.offset, f.what};
  }
  resolve_names(file);
  return file;
}

Expected<MpyFile> read_mpy_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return io::open_error(path, errno);
  std::vector<std::uint8_t> buf;
  std::uint8_t chunk[65536];
  for (;;) {
    std::size_t n = std::fread(chunk, 1, sizeof chunk, f.get());
    buf.insert(buf.end(), chunk, chunk + n);
    if (n < sizeof chunk) break;
  }
  if (std::ferror(f.get())) return Error{path, 0, buf.size(), "read error"};
  return read_mpy(buf, path);
}

}  // namespace mpheap::mpy
