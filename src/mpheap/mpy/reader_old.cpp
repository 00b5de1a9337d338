// mpy v3 (MicroPython 1.9, CircuitPython 6), v4 (1.11) and v5 (1.12-1.18, CircuitPython
// 7-8): qstrs are spelt out where they are used (v4/v5 through a window of recent ones) and
// every raw code carries its own constant table. The readers rebuild each raw code's data as
// the firmware holds it, with 16-bit qstr slots holding indices into MpyFile::qstrs.
#include <algorithm>
#include <string>

#include "mpheap/mpy/cursor.h"
#include "mpheap/mpy/static_qstrs.h"

namespace mpheap::mpy::detail {
namespace {

constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxQstrs = 0xffff;  // indices must fit the 16-bit slots

class OldReader {
 public:
  OldReader(Cursor& in, MpyFile& file)
      : in_(in), file_(file), ops_(opcode_table(file.header.gen())) {}

  RawCode raw_code(int depth);

 private:
  std::uint32_t add_qstr(std::string text, bool is_static) {
    if (file_.qstrs.size() >= kMaxQstrs) fail(in_.pos(), "fewer than 65535 qstrs expected");
    file_.qstrs.push_back({std::move(text), is_static});
    return static_cast<std::uint32_t>(file_.qstrs.size() - 1);
  }

  // One qstr as stored in the file, charged to `part`.
  std::uint32_t qstr(Part part) {
    std::uint64_t at = in_.pos();
    std::uint64_t ln = in_.uint(part, "qstr length");
    if (file_.header.version == 3) {
      auto s = in_.bytes(ln, part, "qstr characters");
      return add_qstr(std::string(s.begin(), s.end()), false);
    }
    if (ln == 0) {
      std::uint8_t idx = in_.byte(part, "static qstr number");
      if (idx == 0 || idx > kStaticQstrCount)
        fail(at + 1, "static qstr number 1-" + std::to_string(kStaticQstrCount) +
                         " expected, found " + std::to_string(idx));
      return add_qstr(std::string(kStaticQstrs[idx]), true);
    }
    if (ln & 1u) {
      std::uint64_t idx = ln >> 1;
      if (idx >= window_.size())
        fail(at, "qstr window index below " + std::to_string(window_.size()) + " expected, found " +
                     std::to_string(idx));
      std::uint32_t q = window_[idx];
      window_.erase(window_.begin() + static_cast<std::ptrdiff_t>(idx));
      window_.insert(window_.begin(), q);
      return q;
    }
    auto s = in_.bytes(ln >> 1, part, "qstr characters");
    std::uint32_t q = add_qstr(std::string(s.begin(), s.end()), false);
    window_.insert(window_.begin(), q);
    if (window_.size() > file_.header.qstr_window_size)
      window_.resize(file_.header.qstr_window_size);
    return q;
  }

  static void put_slot(std::vector<std::uint8_t>& data, std::size_t at, std::uint32_t q) {
    data[at] = static_cast<std::uint8_t>(q & 0xffu);
    data[at + 1] = static_cast<std::uint8_t>(q >> 8);
  }

  Constant obj() {
    std::uint64_t at = in_.pos();
    std::uint8_t type = in_.byte(Part::Constants, "object type");
    Constant c;
    using K = Constant::Kind;
    switch (type) {
      case 'e':
        c.kind = K::Ellipsis;
        return c;
      case 's':
        c.kind = K::Str;
        break;
      case 'b':
        c.kind = K::Bytes;
        break;
      case 'i':
        c.kind = K::Int;
        break;
      case 'f':
        c.kind = K::Float;
        break;
      case 'c':
        c.kind = K::Complex;
        break;
      default:
        fail(at, "object type 'e', 's', 'b', 'i', 'f' or 'c' expected, found byte " +
                     std::to_string(type));
    }
    std::uint64_t n = in_.uint(Part::Constants, "object length");
    auto s = in_.bytes(n, Part::Constants, "object data");
    c.text.assign(s.begin(), s.end());
    return c;
  }

  void old_prelude(RawCode& rc, std::uint64_t base, std::uint32_t* name_slot);
  void stream_bytecode(RawCode& rc, std::uint64_t len);
  void scan_v3_qstrs(RawCode& rc);
  void constant_table(RawCode& rc, int depth);

  Cursor& in_;
  MpyFile& file_;
  const OpcodeTable& ops_;
  std::vector<std::uint32_t> window_;
};

// The v3/v4 prelude inside data: n_state, n_exc_stack (var-uints), scope flags, three
// argument counts, the code-info size, names, line info, then closure cells ended by 0xff.
void OldReader::old_prelude(RawCode& rc, std::uint64_t base, std::uint32_t* name_slot) {
  std::span<const std::uint8_t> data(rc.data);
  std::uint32_t pos = rc.prelude_offset;
  Prelude& p = rc.prelude;
  p.n_state = static_cast<std::uint32_t>(data_uint(data, &pos, base, "n_state"));
  p.n_exc_stack = static_cast<std::uint32_t>(data_uint(data, &pos, base, "n_exc_stack"));
  if (pos + 4 > data.size())
    fail(base + pos, "scope flags and argument counts expected, but the raw code ends");
  p.scope_flags = data[pos];
  p.n_pos_args = data[pos + 1];
  p.n_kwonly_args = data[pos + 2];
  p.n_def_pos_args = data[pos + 3];
  pos += 4;
  std::uint32_t info_start = pos;
  p.n_info = static_cast<std::uint32_t>(data_uint(data, &pos, base, "code-info size"));
  *name_slot = pos;
  std::uint64_t info_end = std::uint64_t{info_start} + p.n_info;
  if (info_end < std::uint64_t{pos} + 4 || info_end > data.size())
    fail(base + info_start,
         "code-info size covering the two name qstrs and within the raw code expected");
  std::uint32_t i = static_cast<std::uint32_t>(info_end);
  while (i < data.size() && data[i] != 0xff) ++i;
  if (i >= data.size()) fail(base + info_end, "closure cell list ended by 0xff expected");
  p.n_cell = i - static_cast<std::uint32_t>(info_end);
  rc.has_prelude = true;
  rc.line_info_offset = pos + 4;
  rc.line_info_end = static_cast<std::uint32_t>(info_end);
  rc.code_offset = i + 1;
}

// v4/v5 bytecode: opcodes copied from the file, qstr operands spelt out inline.
void OldReader::stream_bytecode(RawCode& rc, std::uint64_t len) {
  auto& data = rc.data;
  while (data.size() < len) {
    std::uint64_t at = in_.pos();
    std::uint8_t op = in_.byte(Part::Bytecode, "opcode");
    data.push_back(op);
    const OpcodeInfo& info = ops_.ops[op];
    std::size_t extra = info.extra_byte || (info.extra_byte_if_cache && file_.header.map_caching());
    if (op == ops_.unwind_jump && ops_.loader_skips_unwind_extra) extra = 0;
    switch (info.operand) {
      case Operand::Qstr: {
        std::uint32_t q = qstr(Part::Qstrs);
        data.push_back(0);
        data.push_back(0);
        put_slot(data, data.size() - 2, q);
        // The loader sized qstr opcodes as 3 bytes, never with an extra byte.
        extra = 0;
        break;
      }
      case Operand::UInt:
      case Operand::SmallInt:
      case Operand::Const:
      case Operand::Child:
        for (;;) {
          std::uint8_t b = in_.byte(Part::Bytecode, "var-uint operand");
          data.push_back(b);
          if ((b & 0x80u) == 0) break;
        }
        break;
      case Operand::Jump:
      case Operand::JumpSigned: {
        auto b = in_.bytes(2, Part::Bytecode, "jump offset");
        data.insert(data.end(), b.begin(), b.end());
        break;
      }
      default:
        break;
    }
    if (extra) data.push_back(in_.byte(Part::Bytecode, "opcode's extra byte"));
    if (data.size() > len)
      fail(at, "opcode ending within the raw code's " + std::to_string(len) + " bytes expected");
  }
}

// v3 bytecode was stored as it is in RAM; the qstrs follow in the order the loader's scan
// meets them.
void OldReader::scan_v3_qstrs(RawCode& rc) {
  auto& data = rc.data;
  std::size_t ip = rc.code_offset;
  while (ip < data.size()) {
    std::uint8_t op = data[ip];
    const OpcodeInfo& info = ops_.ops[op];
    std::size_t size = 1;
    switch (info.operand) {
      case Operand::Qstr:
        if (ip + 3 > data.size()) fail(in_.pos(), "qstr opcode within the bytecode expected");
        put_slot(data, ip + 1, qstr(Part::Qstrs));
        ip += 3;
        continue;
      case Operand::UInt:
      case Operand::SmallInt:
      case Operand::Const:
      case Operand::Child:
        while (ip + size < data.size() && (data[ip + size] & 0x80u)) ++size;
        ++size;
        break;
      case Operand::Jump:
      case Operand::JumpSigned:
        size += 2;
        break;
      default:
        break;
    }
    bool extra = info.extra_byte || (info.extra_byte_if_cache && file_.header.map_caching());
    if (op == ops_.unwind_jump) extra = false;
    ip += size + (extra ? 1 : 0);
  }
}

// Before v6 each raw code but asm has: object and child counts, argument-name qstrs,
// objects, children.
void OldReader::constant_table(RawCode& rc, int depth) {
  std::uint64_t at = in_.pos();
  std::uint32_t n_obj = in_.count(Part::CodeHeader, "number of objects");
  std::uint32_t n_raw = in_.count(Part::CodeHeader, "number of child raw codes");
  if (n_obj > in_.left() || n_raw > in_.left())
    fail(at, "object and child counts that fit in the file expected");
  std::uint32_t n_args = rc.prelude.n_pos_args + rc.prelude.n_kwonly_args;
  if (n_args > in_.left()) fail(in_.pos(), "argument names that fit in the file expected");
  for (std::uint32_t i = 0; i < n_args; ++i) rc.const_qstrs.push_back(qstr(Part::Prelude));
  if (rc.kind != CodeKind::Bytecode) rc.consts.push_back({Constant::Kind::FunTable, {}, {}});
  for (std::uint32_t i = 0; i < n_obj; ++i) rc.consts.push_back(obj());
  rc.prelude.arg_names = rc.const_qstrs;
  rc.children.reserve(std::min<std::uint32_t>(n_raw, 256));
  PartSizes* mine = in_.owner();
  for (std::uint32_t i = 0; i < n_raw; ++i) rc.children.push_back(raw_code(depth + 1));
  in_.charge_to(mine);
}

RawCode OldReader::raw_code(int depth) {
  if (depth > kMaxDepth) fail(in_.pos(), "raw codes nested deeper than 64");
  RawCode rc;
  PartSizes* parent = in_.owner();
  in_.charge_to(&rc.sizes);
  rc.file_offset = in_.pos();
  std::uint8_t version = file_.header.version;
  std::uint64_t kind_len =
      in_.uint(Part::CodeHeader, version == 3 ? "bytecode length" : "raw code kind and length");
  std::uint64_t len = version == 3 ? kind_len : kind_len >> 2;
  rc.kind = version == 3 ? CodeKind::Bytecode : static_cast<CodeKind>(kind_len & 3u);
  // In RAM a qstr takes a 2-byte slot where the file may use 1 byte, so the data can be at
  // most about twice the bytes left in the file.
  if (len > 2 * in_.left() + 16)
    fail(rc.file_offset, "raw code length of at most twice the " + std::to_string(in_.left()) +
                             " bytes left expected, found " + std::to_string(len));
  std::uint32_t name_slot = 0;

  if (version == 3) {
    std::uint64_t base = in_.pos();
    PartSizes scratch{};
    in_.charge_to(&scratch);
    auto d = in_.bytes(len, Part::Bytecode, "bytecode");
    in_.charge_to(&rc.sizes);
    rc.data.assign(d.begin(), d.end());
    old_prelude(rc, base, &name_slot);
    auto& s = rc.sizes;
    s[static_cast<std::size_t>(Part::Prelude)] +=
        rc.line_info_offset + (rc.code_offset - rc.line_info_end);
    s[static_cast<std::size_t>(Part::LineInfo)] += rc.line_info_end - rc.line_info_offset;
    s[static_cast<std::size_t>(Part::Bytecode)] += len - rc.code_offset;
    put_slot(rc.data, name_slot, qstr(Part::Qstrs));
    put_slot(rc.data, name_slot + 2, qstr(Part::Qstrs));
    scan_v3_qstrs(rc);
  } else if (rc.kind == CodeKind::Bytecode) {
    rc.data.reserve(len);
    if (version == 4) {
      // Prelude bytes as stored (the name slots are placeholders filled after the opcodes).
      std::uint64_t base = in_.pos();
      auto take_uint = [&](const char* what) {
        for (;;) {
          std::uint8_t b = in_.byte(Part::Prelude, what);
          rc.data.push_back(b);
          if ((b & 0x80u) == 0) break;
        }
      };
      take_uint("n_state");
      take_uint("n_exc_stack");
      auto b = in_.bytes(4, Part::Prelude, "scope flags and argument counts");
      rc.data.insert(rc.data.end(), b.begin(), b.end());
      std::size_t info_start = rc.data.size();
      take_uint("code-info size");
      std::uint32_t pos = static_cast<std::uint32_t>(info_start);
      std::uint64_t n_info = data_uint(rc.data, &pos, base, "code-info size");
      std::size_t used = rc.data.size() - info_start;
      if (n_info < used + 4)
        fail(base + info_start, "code-info size covering the two name qstrs expected");
      auto names = in_.bytes(4, Part::Prelude, "name qstr placeholders");
      rc.data.insert(rc.data.end(), names.begin(), names.end());
      auto lines = in_.bytes(n_info - used - 4, Part::LineInfo, "line info");
      rc.data.insert(rc.data.end(), lines.begin(), lines.end());
      for (;;) {
        std::uint8_t c = in_.byte(Part::Prelude, "closure cell or 0xff");
        rc.data.push_back(c);
        if (c == 0xff) break;
      }
      if (rc.data.size() > len) fail(base, "prelude within the raw code's length expected");
      old_prelude(rc, base, &name_slot);
    } else {
      std::uint64_t base = in_.pos();
      // Signature and size bytes: copy until a byte without the continuation bit, twice.
      for (int field = 0; field < 2; ++field) {
        for (int n = 0;; ++n) {
          if (n > 5) fail(in_.pos(), "prelude field of at most 6 bytes expected");
          std::uint8_t b =
              in_.byte(Part::Prelude, field == 0 ? "prelude signature" : "prelude size");
          rc.data.push_back(b);
          if ((b & 0x80u) == 0) break;
        }
      }
      std::uint32_t pos = 0;
      decode_compressed_prelude(rc.data, &pos, base, &rc.prelude);
      if (rc.prelude.n_info < 4)
        fail(base, "code-info size of at least 4 (the name qstrs) expected");
      name_slot = static_cast<std::uint32_t>(rc.data.size());
      rc.data.resize(rc.data.size() + 4);
      put_slot(rc.data, name_slot, qstr(Part::Qstrs));
      put_slot(rc.data, name_slot + 2, qstr(Part::Qstrs));
      auto lines = in_.bytes(rc.prelude.n_info - 4, Part::LineInfo, "line info");
      rc.data.insert(rc.data.end(), lines.begin(), lines.end());
      auto cells = in_.bytes(rc.prelude.n_cell, Part::Prelude, "closure cells");
      rc.data.insert(rc.data.end(), cells.begin(), cells.end());
      if (rc.data.size() > len) fail(base, "prelude within the raw code's length expected");
      rc.has_prelude = true;
      rc.line_info_offset = name_slot + 4;
      rc.line_info_end = name_slot + rc.prelude.n_info;
      rc.code_offset = static_cast<std::uint32_t>(rc.data.size());
    }
    stream_bytecode(rc, len);
    if (version == 4) {
      put_slot(rc.data, name_slot, qstr(Part::Qstrs));
      put_slot(rc.data, name_slot + 2, qstr(Part::Qstrs));
    }
  } else {
    std::uint64_t base = in_.pos();
    auto d = in_.bytes(len, Part::NativeCode, "native code");
    rc.data.assign(d.begin(), d.end());
    if (rc.kind == CodeKind::Native || rc.kind == CodeKind::Viper) {
      std::uint64_t at = in_.pos();
      std::uint32_t n_links = in_.count(Part::NativeLinks, "number of qstr links");
      if (n_links > in_.left()) fail(at, "qstr link count that fits in the file expected");
      for (std::uint32_t i = 0; i < n_links; ++i) {
        std::uint64_t off = in_.uint(Part::NativeLinks, "qstr link offset");
        std::uint32_t q = qstr(Part::NativeLinks);
        rc.qstr_links.push_back(
            {static_cast<std::uint32_t>(off >> 2), static_cast<std::uint8_t>(off & 3u), q});
      }
    }
    if (rc.kind == CodeKind::Native) {
      std::uint64_t at = in_.pos();
      std::uint64_t off = in_.uint(Part::CodeHeader, "native prelude offset");
      if (off >= len) fail(at, "prelude offset inside the native code expected");
      rc.prelude_offset = static_cast<std::uint32_t>(off);
      if (version == 4) {
        old_prelude(rc, base, &name_slot);
      } else {
        std::uint32_t pos = rc.prelude_offset;
        decode_compressed_prelude(rc.data, &pos, base, &rc.prelude);
        name_slot = pos;
        if (std::uint64_t{pos} + rc.prelude.n_info + rc.prelude.n_cell > len ||
            rc.prelude.n_info < 4)
          fail(base + rc.prelude_offset, "native prelude within the code expected");
        rc.has_prelude = true;
        rc.line_info_offset = pos + 4;
        rc.line_info_end = pos + rc.prelude.n_info;
        rc.code_offset = rc.line_info_end + rc.prelude.n_cell;
      }
      if (std::uint64_t{name_slot} + 4 > len)
        fail(base + name_slot, "name slots within the native code expected");
      put_slot(rc.data, name_slot, qstr(Part::Qstrs));
      put_slot(rc.data, name_slot + 2, qstr(Part::Qstrs));
    } else {
      rc.native_scope_flags = in_.count(Part::CodeHeader, "native scope flags");
      if (rc.kind == CodeKind::Asm) {
        rc.native_n_pos_args = in_.count(Part::CodeHeader, "asm argument count");
        rc.type_sig = in_.count(Part::CodeHeader, "asm type signature");
      }
    }
  }
  if (rc.has_prelude) {
    rc.prelude.name =
        static_cast<std::uint32_t>(rc.data[name_slot] | (rc.data[name_slot + 1] << 8));
    rc.prelude.source_file =
        static_cast<std::uint32_t>(rc.data[name_slot + 2] | (rc.data[name_slot + 3] << 8));
    rc.lines = decode_lines(rc.data, rc.line_info_offset, rc.line_info_end);
  }
  if (rc.kind != CodeKind::Asm) constant_table(rc, depth);
  in_.charge_to(parent);
  return rc;
}

}  // namespace

void read_v3(Cursor& in, MpyFile& file) {
  OldReader r(in, file);
  file.module = r.raw_code(0);
}

void read_v4_v5(Cursor& in, MpyFile& file) {
  Header& h = file.header;
  h.arch = static_cast<std::uint8_t>(h.feature_byte >> 2);
  std::uint64_t at = in.pos();
  std::uint64_t w = in.uint(Part::Header, "qstr window size");
  if (w > 0xffff) fail(at, "qstr window size below 65536 expected");
  h.qstr_window_size = static_cast<std::uint32_t>(w);
  OldReader r(in, file);
  file.module = r.raw_code(0);
}

}  // namespace mpheap::mpy::detail
