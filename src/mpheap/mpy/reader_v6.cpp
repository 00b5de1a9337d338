// mpy v6.0-6.3 (MicroPython 1.19+, CircuitPython 9): one qstr table and one object table
// per file, then the raw-code tree; each raw code's data is stored as the firmware holds it.
#include <algorithm>
#include <string>

#include "mpheap/mpy/cursor.h"
#include "mpheap/mpy/static_qstrs.h"

namespace mpheap::mpy::detail {
namespace {

constexpr int kMaxDepth = 64;

Qstr read_qstr(Cursor& in) {
  std::uint64_t at = in.pos();
  std::uint64_t ln = in.uint(Part::Qstrs, "qstr length");
  if (ln & 1u) {
    std::uint64_t idx = ln >> 1;
    if (idx == 0 || idx > kStaticQstrCount)
      fail(at, "static qstr number 1-" + std::to_string(kStaticQstrCount) + " expected, found " +
                   std::to_string(idx));
    return {std::string(kStaticQstrs[idx]), true};
  }
  auto s = in.bytes(ln >> 1, Part::Qstrs, "qstr characters");
  std::uint64_t nul_at = in.pos();
  if (in.byte(Part::Qstrs, "qstr terminating NUL") != 0)
    fail(nul_at, "qstr terminating NUL expected");
  return {std::string(s.begin(), s.end()), false};
}

Constant read_obj(Cursor& in, int depth) {
  if (depth > kMaxDepth) fail(in.pos(), "tuple nesting deeper than 64");
  std::uint64_t at = in.pos();
  std::uint8_t type = in.byte(Part::Constants, "object type");
  Constant c;
  using K = Constant::Kind;
  switch (type) {
    case 0:
      c.kind = K::FunTable;
      return c;
    case 1:
      c.kind = K::None;
      return c;
    case 2:
      c.kind = K::False;
      return c;
    case 3:
      c.kind = K::True;
      return c;
    case 4:
      c.kind = K::Ellipsis;
      return c;
    case 10: {
      c.kind = K::Tuple;
      std::uint64_t n = in.uint(Part::Constants, "tuple length");
      if (n > in.left())
        fail(at + 1, "tuple length " + std::to_string(n) + " past the end of the file");
      for (std::uint64_t i = 0; i < n; ++i) c.items.push_back(read_obj(in, depth + 1));
      return c;
    }
    case 5:
    case 6:
    case 7:
    case 8:
    case 9: {
      static constexpr K kinds[] = {K::Str, K::Bytes, K::Int, K::Float, K::Complex};
      c.kind = kinds[type - 5];
      std::uint64_t n = in.uint(Part::Constants, "object length");
      auto s = in.bytes(n, Part::Constants, "object data");
      c.text.assign(s.begin(), s.end());
      if (type == 5 || type == 6) {
        std::uint64_t nul_at = in.pos();
        if (in.byte(Part::Constants, "terminating NUL") != 0)
          fail(nul_at, "terminating NUL expected");
      }
      return c;
    }
    default:
      fail(at, "object type 0-10 expected, found " + std::to_string(type));
  }
}

// Splits a bytecode raw code's data into prelude, line info and opcodes.
void parse_bytecode_prelude(RawCode& rc, std::uint64_t base, std::size_t n_qstrs, bool charge) {
  std::span<const std::uint8_t> data(rc.data);
  std::uint32_t pos = rc.prelude_offset;
  decode_compressed_prelude(data, &pos, base, &rc.prelude);
  std::uint32_t source_info = pos;
  std::uint32_t n_names = 1 + rc.prelude.n_pos_args + rc.prelude.n_kwonly_args;
  for (std::uint32_t i = 0; i < n_names; ++i) {
    std::uint32_t at = pos;
    std::uint64_t q = data_uint(data, &pos, base, "argument name qstr index");
    if (q >= n_qstrs)
      fail(base + at,
           "qstr index below " + std::to_string(n_qstrs) + " expected, found " + std::to_string(q));
    if (i == 0)
      rc.prelude.name = static_cast<std::uint32_t>(q);
    else
      rc.prelude.arg_names.push_back(static_cast<std::uint32_t>(q));
  }
  std::uint64_t line_end = std::uint64_t{source_info} + rc.prelude.n_info;
  std::uint64_t code = line_end + rc.prelude.n_cell;
  if (line_end < pos || code > data.size())
    fail(base + source_info, "prelude sizes within the raw code expected (info " +
                                 std::to_string(rc.prelude.n_info) + ", cells " +
                                 std::to_string(rc.prelude.n_cell) + ", data " +
                                 std::to_string(data.size()) + " bytes)");
  rc.has_prelude = true;
  rc.line_info_offset = pos;
  rc.line_info_end = static_cast<std::uint32_t>(line_end);
  rc.code_offset = static_cast<std::uint32_t>(code);
  rc.lines = decode_lines(data, rc.line_info_offset, rc.line_info_end);
  if (charge) {
    auto& s = rc.sizes;
    std::uint32_t total = static_cast<std::uint32_t>(data.size());
    std::uint32_t prelude =
        rc.line_info_offset - rc.prelude_offset + (rc.code_offset - rc.line_info_end);
    std::uint32_t lines = rc.line_info_end - rc.line_info_offset;
    s[static_cast<std::size_t>(Part::Prelude)] += prelude;
    s[static_cast<std::size_t>(Part::LineInfo)] += lines;
    s[static_cast<std::size_t>(rc.kind == CodeKind::Bytecode ? Part::Bytecode
                                                             : Part::NativeCode)] +=
        total - prelude - lines;
  }
}

RawCode read_raw_code(Cursor& in, std::size_t n_qstrs, int depth) {
  if (depth > kMaxDepth) fail(in.pos(), "raw codes nested deeper than 64");
  RawCode rc;
  PartSizes* parent = in.owner();
  in.charge_to(&rc.sizes);
  rc.file_offset = in.pos();
  std::uint64_t kind_len = in.uint(Part::CodeHeader, "raw code kind and length");
  rc.kind = static_cast<CodeKind>(kind_len & 3u);
  bool has_children = (kind_len & 4u) != 0;
  std::uint64_t len = kind_len >> 3;
  std::uint64_t data_at = in.pos();
  // The data is charged below, once its parts are known.
  PartSizes scratch{};
  in.charge_to(&scratch);
  auto d = in.bytes(len, Part::Bytecode, "raw code data");
  in.charge_to(&rc.sizes);
  rc.data.assign(d.begin(), d.end());
  if (rc.kind == CodeKind::Bytecode) {
    parse_bytecode_prelude(rc, data_at, n_qstrs, true);
  } else {
    if (rc.kind == CodeKind::Native) {
      std::uint64_t at = in.pos();
      std::uint64_t off = in.uint(Part::CodeHeader, "native prelude offset");
      if (off >= len) fail(at, "prelude offset inside the native code expected");
      rc.prelude_offset = static_cast<std::uint32_t>(off);
      rc.sizes[static_cast<std::size_t>(Part::NativeCode)] += off;
      parse_bytecode_prelude(rc, data_at, n_qstrs, false);
      auto& s = rc.sizes;
      s[static_cast<std::size_t>(Part::Prelude)] +=
          rc.line_info_offset - rc.prelude_offset + (rc.code_offset - rc.line_info_end);
      s[static_cast<std::size_t>(Part::LineInfo)] += rc.line_info_end - rc.line_info_offset;
      s[static_cast<std::size_t>(Part::NativeCode)] += len - rc.code_offset;
    } else {
      rc.sizes[static_cast<std::size_t>(Part::NativeCode)] += len;
      rc.native_scope_flags = in.count(Part::CodeHeader, "native scope flags");
      if (rc.kind == CodeKind::Viper) {
        if (rc.native_scope_flags & 0x20u)
          rc.rodata_size = in.count(Part::CodeHeader, "viper rodata size");
        if (rc.native_scope_flags & 0x40u)
          rc.bss_size = in.count(Part::CodeHeader, "viper bss size");
        if (rc.native_scope_flags & 0x20u)
          in.bytes(rc.rodata_size, Part::NativeCode, "viper rodata");
        if (rc.native_scope_flags & 0x10u) {
          for (;;) {
            std::uint8_t op = in.byte(Part::NativeLinks, "relocation op or 0xff");
            if (op == 0xff) break;
            if (op & 1u) in.uint(Part::NativeLinks, "relocation address");
            op >>= 1;
            if (op <= 5 && (op & 1u)) in.uint(Part::NativeLinks, "relocation count");
            ++rc.n_relocs;
          }
        }
      } else {
        rc.native_n_pos_args = in.count(Part::CodeHeader, "asm argument count");
        rc.type_sig = in.count(Part::CodeHeader, "asm type signature");
      }
    }
  }
  if (has_children) {
    std::uint64_t at = in.pos();
    std::uint64_t n = in.uint(Part::CodeHeader, "number of children");
    if (n > in.left()) fail(at, std::to_string(n) + " children cannot fit in the rest of the file");
    rc.children.reserve(std::min<std::uint64_t>(n, 256));
    for (std::uint64_t i = 0; i < n; ++i)
      rc.children.push_back(read_raw_code(in, n_qstrs, depth + 1));
    in.charge_to(&rc.sizes);
  }
  in.charge_to(parent);
  return rc;
}

}  // namespace

void read_v6(Cursor& in, MpyFile& file) {
  Header& h = file.header;
  h.sub_version = h.feature_byte & 3u;
  h.arch = static_cast<std::uint8_t>((h.feature_byte >> 2) & 0x0fu);
  if (h.feature_byte & 0x40u) h.arch_flags = in.uint(Part::Header, "architecture flags");
  std::uint64_t at = in.pos();
  std::uint64_t n_qstr = in.uint(Part::Header, "number of qstrs");
  std::uint64_t n_obj = in.uint(Part::Header, "number of objects");
  if (n_qstr > in.left() || n_obj > in.left())
    fail(at, "qstr and object counts that fit in the file expected (" + std::to_string(n_qstr) +
                 " qstrs, " + std::to_string(n_obj) + " objects, " + std::to_string(in.left()) +
                 " bytes left)");
  file.qstrs.reserve(n_qstr);
  for (std::uint64_t i = 0; i < n_qstr; ++i) file.qstrs.push_back(read_qstr(in));
  file.objs.reserve(n_obj);
  for (std::uint64_t i = 0; i < n_obj; ++i) file.objs.push_back(read_obj(in, 0));
  if (file.qstrs.empty()) fail(in.pos(), "at least one qstr (the source file name) expected");
  file.module = read_raw_code(in, file.qstrs.size(), 0);
}

}  // namespace mpheap::mpy::detail
