// Decoding opcodes, their operands as mpy-tool.py -d names them, and raw code names.
#include "mpheap/mpy/disasm.h"

#include "mpheap/mpy/pyrepr.h"
#include "mpheap/util/text_append.h"

namespace mpheap::mpy {
namespace {

bool is_old(const MpyFile& f) {
  return f.header.version < 6;
}

}  // namespace

const std::string& qstr_text(const MpyFile& f, std::uint64_t i) {
  static const std::string missing = "?";
  return i < f.qstrs.size() ? f.qstrs[i].text : missing;
}

std::string hex_bytes(std::span<const std::uint8_t> bytes) {
  std::string out;
  append_hex_bytes(out, bytes);
  return out;
}

BytecodeDecoder::BytecodeDecoder(const MpyFile& file, const RawCode& rc)
    : table_(opcode_table(file.header.gen())),
      map_caching_(file.header.map_caching()),
      data_(rc.data) {}

Instruction BytecodeDecoder::at(std::size_t ip) const {
  const OpcodeTable& table = table_;
  const auto& d = data_;
  const std::size_t n = d.size();
  Instruction in;
  in.offset = static_cast<std::uint32_t>(ip);
  in.opcode = d[ip];
  in.info = &table.ops[in.opcode];
  std::size_t p = ip + 1;
  auto need = [&](std::size_t k) {
    if (p + k > n) {
      in.truncated = true;
      return false;
    }
    return true;
  };
  auto var_uint = [&](bool is_signed) {
    if (!need(1)) return;
    std::int64_t v = (is_signed && (d[p] & 0x40u)) ? -1 : 0;
    for (int i = 0; i < 10; ++i) {
      if (!need(1)) return;
      std::uint8_t b = d[p++];
      v = static_cast<std::int64_t>(static_cast<std::uint64_t>(v) << 7) | (b & 0x7f);
      if ((b & 0x80u) == 0) break;
    }
    in.arg = v;
  };
  switch (in.info->operand) {
    case Operand::Qstr:
      if (table.compact_operands) {
        var_uint(false);
      } else if (need(2)) {
        in.arg = d[p] | (d[p + 1] << 8);
        p += 2;
      }
      break;
    case Operand::UInt:
    case Operand::Const:
    case Operand::Child:
      var_uint(false);
      break;
    case Operand::SmallInt:
      var_uint(true);
      break;
    case Operand::Jump:
    case Operand::JumpSigned: {
      bool sgn = in.info->operand == Operand::JumpSigned;
      if (!need(1)) break;
      if (table.compact_operands) {
        if ((d[p] & 0x80u) == 0) {
          in.arg = d[p] - (sgn ? 0x40 : 0);
          p += 1;
        } else if (need(2)) {
          in.arg = ((d[p] & 0x7f) | (d[p + 1] << 7)) - (sgn ? 0x4000 : 0);
          p += 2;
        }
      } else if (need(2)) {
        in.arg = (d[p] | (d[p + 1] << 8)) - (sgn ? 0x8000 : 0);
        p += 2;
      }
      if (!in.truncated)
        in.target = static_cast<std::uint32_t>(static_cast<std::int64_t>(p) + in.arg);
      break;
    }
    case Operand::Implicit:
      in.arg = in.info->implicit;
      break;
    case Operand::None:
      break;
  }
  bool extra = in.info->extra_byte || (in.info->extra_byte_if_cache && map_caching_);
  if (extra && !in.truncated && need(1)) in.extra = d[p++];
  if (in.truncated) p = n;
  in.size = static_cast<std::uint32_t>(p - ip);
  return in;
}

std::vector<Instruction> decode_bytecode(const MpyFile& file, const RawCode& rc) {
  std::vector<Instruction> out;
  if (rc.kind != CodeKind::Bytecode) return out;
  BytecodeDecoder decoder(file, rc);
  for (std::size_t ip = rc.code_offset; ip < rc.data.size(); ip += out.back().size)
    out.push_back(decoder.at(ip));
  return out;
}

void append_mnemonic(std::string& out, const Instruction& in) {
  out += in.info->name;
  if (in.info->operand != Operand::Implicit) return;
  out += ' ';
  append_int(out, in.arg);
  if (!in.info->op_name.empty()) {
    out += ' ';
    out += in.info->op_name;
  }
}

std::string mnemonic(const Instruction& in) {
  std::string out;
  append_mnemonic(out, in);
  return out;
}

ConstRef resolve_const(const MpyFile& file, const RawCode& rc, std::int64_t index) {
  (void)file;
  if (index < 0) return {};
  auto i = static_cast<std::uint64_t>(index);
  if (i < rc.const_qstrs.size()) return {ConstRef::Kind::ArgName, static_cast<std::uint32_t>(i)};
  i -= rc.const_qstrs.size();
  if (i < rc.consts.size()) return {ConstRef::Kind::Object, static_cast<std::uint32_t>(i)};
  i -= rc.consts.size();
  if (i < rc.children.size()) return {ConstRef::Kind::Child, static_cast<std::uint32_t>(i)};
  return {};
}

std::optional<std::uint32_t> child_index(const MpyFile& file, const RawCode& rc, std::int64_t arg) {
  if (!is_old(file)) {
    if (arg >= 0 && static_cast<std::uint64_t>(arg) < rc.children.size())
      return static_cast<std::uint32_t>(arg);
    return std::nullopt;
  }
  ConstRef r = resolve_const(file, rc, arg);
  if (r.kind == ConstRef::Kind::Child) return r.index;
  return std::nullopt;
}

std::vector<std::string> object_reprs(const MpyFile& file) {
  std::vector<std::string> out;
  out.reserve(file.objs.size());
  for (const Constant& c : file.objs) out.push_back(py_repr(c));
  return out;
}

void append_operand_text(std::string& out, const MpyFile& file, const RawCode& rc,
                         const Instruction& in, std::span<const std::string> obj_reprs) {
  switch (in.info->operand) {
    case Operand::Qstr:
      out += qstr_text(file, static_cast<std::uint64_t>(in.arg));
      return;
    case Operand::Const: {
      if (!is_old(file)) {
        if (in.arg >= 0 && static_cast<std::uint64_t>(in.arg) < file.objs.size()) {
          auto i = static_cast<std::size_t>(in.arg);
          if (obj_reprs.size() == file.objs.size())
            out += obj_reprs[i];
          else
            append_py_repr(out, file.objs[i]);
          return;
        }
        out += "?obj ";
        append_int(out, in.arg);
        return;
      }
      ConstRef r = resolve_const(file, rc, in.arg);
      switch (r.kind) {
        case ConstRef::Kind::ArgName:
          append_py_str_repr(out, qstr_text(file, rc.const_qstrs[r.index]));
          return;
        case ConstRef::Kind::Object:
          append_py_repr(out, rc.consts[r.index]);
          return;
        case ConstRef::Kind::Child:
          out += "<code ";
          out += rc.children[r.index].name;
          out += '>';
          return;
        case ConstRef::Kind::Missing:
          out += "?const ";
          append_int(out, in.arg);
          return;
      }
      return;
    }
    case Operand::UInt:
    case Operand::SmallInt:
    case Operand::Child:
    case Operand::Jump:
    case Operand::JumpSigned:
      append_int(out, in.arg);
      return;
    default:
      return;
  }
}

std::string operand_text(const MpyFile& file, const RawCode& rc, const Instruction& in) {
  std::string out;
  append_operand_text(out, file, rc, in);
  return out;
}

namespace {

bool stores_name(std::string_view op) {
  return op == "STORE_NAME" || op == "STORE_GLOBAL" || op == "STORE_ATTR";
}

void name_tree(const MpyFile& file, RawCode& rc) {
  if (rc.has_prelude) rc.name = qstr_text(file, rc.prelude.name);
  if (rc.kind == CodeKind::Bytecode && rc.code_offset < rc.data.size()) {
    BytecodeDecoder decoder(file, rc);
    Instruction prev = decoder.at(rc.code_offset);
    for (std::size_t ip = prev.offset + prev.size; ip < rc.data.size();) {
      Instruction in = decoder.at(ip);
      ip += in.size;
      if (prev.info->operand == Operand::Child) {
        auto c = child_index(file, rc, prev.arg);
        if (c && !rc.children[*c].has_prelude && stores_name(in.info->name))
          rc.children[*c].name = qstr_text(file, static_cast<std::uint64_t>(in.arg));
      }
      prev = in;
    }
  }
  for (RawCode& c : rc.children) {
    if (c.name.empty()) c.name = c.kind == CodeKind::Asm ? "<asm>" : "<viper>";
    name_tree(file, c);
  }
}

}  // namespace

void resolve_names(MpyFile& file) {
  name_tree(file, file.module);
  if (file.module.name.empty()) file.module.name = "<module>";
}

}  // namespace mpheap::mpy
