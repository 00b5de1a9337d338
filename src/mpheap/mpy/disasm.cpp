// Decoding opcodes and presenting them the way mpy-tool.py -d does.
#include "mpheap/mpy/disasm.h"

#include <fmt/format.h>

#include "mpheap/mpy/pyrepr.h"

namespace mpheap::mpy {
namespace {

const std::string& qstr_text(const MpyFile& f, std::uint64_t i) {
  static const std::string missing = "?";
  return i < f.qstrs.size() ? f.qstrs[i].text : missing;
}

bool is_old(const MpyFile& f) {
  return f.header.version < 6;
}

}  // namespace

std::string hex_bytes(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 3);
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i) out += ':';
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

std::vector<Instruction> decode_bytecode(const MpyFile& file, const RawCode& rc) {
  std::vector<Instruction> out;
  if (rc.kind != CodeKind::Bytecode) return out;
  const OpcodeTable& table = opcode_table(file.header.gen());
  const auto& d = rc.data;
  const std::size_t n = d.size();
  std::size_t ip = rc.code_offset;
  while (ip < n) {
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
    bool extra = in.info->extra_byte || (in.info->extra_byte_if_cache && file.header.map_caching());
    if (extra && !in.truncated && need(1)) in.extra = d[p++];
    if (in.truncated) p = n;
    in.size = static_cast<std::uint32_t>(p - ip);
    out.push_back(in);
    ip = p;
  }
  return out;
}

std::string mnemonic(const Instruction& in) {
  if (in.info->operand != Operand::Implicit) return std::string(in.info->name);
  if (!in.info->op_name.empty())
    return fmt::format("{} {} {}", in.info->name, in.arg, in.info->op_name);
  return fmt::format("{} {}", in.info->name, in.arg);
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

std::string operand_text(const MpyFile& file, const RawCode& rc, const Instruction& in) {
  switch (in.info->operand) {
    case Operand::Qstr:
      return qstr_text(file, static_cast<std::uint64_t>(in.arg));
    case Operand::Const: {
      if (!is_old(file)) {
        if (in.arg >= 0 && static_cast<std::uint64_t>(in.arg) < file.objs.size())
          return py_repr(file.objs[static_cast<std::size_t>(in.arg)]);
        return fmt::format("?obj {}", in.arg);
      }
      ConstRef r = resolve_const(file, rc, in.arg);
      switch (r.kind) {
        case ConstRef::Kind::ArgName:
          return py_str_repr(qstr_text(file, rc.const_qstrs[r.index]));
        case ConstRef::Kind::Object:
          return py_repr(rc.consts[r.index]);
        case ConstRef::Kind::Child:
          return fmt::format("<code {}>", rc.children[r.index].name);
        case ConstRef::Kind::Missing:
          return fmt::format("?const {}", in.arg);
      }
      return {};
    }
    case Operand::UInt:
    case Operand::SmallInt:
    case Operand::Child:
    case Operand::Jump:
    case Operand::JumpSigned:
      return std::to_string(in.arg);
    default:
      return {};
  }
}

namespace {

bool stores_name(std::string_view op) {
  return op == "STORE_NAME" || op == "STORE_GLOBAL" || op == "STORE_ATTR";
}

void name_tree(const MpyFile& file, RawCode& rc) {
  if (rc.has_prelude) rc.name = qstr_text(file, rc.prelude.name);
  if (rc.kind == CodeKind::Bytecode) {
    auto ins = decode_bytecode(file, rc);
    for (std::size_t i = 0; i + 1 < ins.size(); ++i) {
      if (ins[i].info->operand != Operand::Child) continue;
      auto c = child_index(file, rc, ins[i].arg);
      if (!c || rc.children[*c].has_prelude) continue;
      if (stores_name(ins[i + 1].info->name))
        rc.children[*c].name = qstr_text(file, static_cast<std::uint64_t>(ins[i + 1].arg));
    }
  }
  for (RawCode& c : rc.children) {
    if (c.name.empty()) c.name = c.kind == CodeKind::Asm ? "<asm>" : "<viper>";
    name_tree(file, c);
  }
}

std::string const_list(const RawCode& rc) {
  std::string s = "[";
  for (std::size_t i = 0; i < rc.consts.size(); ++i) {
    if (i) s += ", ";
    s += py_repr(rc.consts[i]);
  }
  return s + "]";
}

void disasm_raw_code(const MpyFile& file, const RawCode& rc, std::string& out) {
  out += fmt::format("simple_name: {}\n", rc.name);
  if (rc.kind == CodeKind::Bytecode) {
    out += fmt::format("  raw bytecode: {} {}\n", rc.data.size(), hex_bytes(rc.data));
  } else {
    std::span<const std::uint8_t> head(rc.data.data(), std::min<std::size_t>(rc.data.size(), 32));
    out += fmt::format("  raw data: {} {} {}\n", rc.data.size(), hex_bytes(head),
                       rc.data.size() > 32 ? "..." : "");
    out += fmt::format("  kind: {}\n", code_kind_name(rc.kind));
  }
  if (rc.has_prelude) {
    const Prelude& p = rc.prelude;
    out += fmt::format("  prelude: ({}, {}, {}, {}, {}, {})\n", p.n_state, p.n_exc_stack,
                       p.scope_flags, p.n_pos_args, p.n_kwonly_args, p.n_def_pos_args);
    std::string args = "[";
    for (std::size_t i = 0; i < p.arg_names.size(); ++i) {
      if (i) args += ", ";
      args += py_str_repr(qstr_text(file, p.arg_names[i]));
    }
    out += fmt::format("  args: {}]\n", args);
    std::span<const std::uint8_t> li(rc.data.data() + rc.line_info_offset,
                                     rc.line_info_end - rc.line_info_offset);
    out += fmt::format("  line info: {}\n", hex_bytes(li));
    if (!rc.lines.empty()) {
      std::string ls;
      for (const auto& l : rc.lines) ls += fmt::format(" {}@{}", l.line, l.bc_offset);
      out += fmt::format("  lines (line@bytecode offset):{}\n", ls);
    }
  }
  if (is_old(file) && rc.kind != CodeKind::Asm)
    out += fmt::format("  consts: {}\n", const_list(rc));
  if (!rc.qstr_links.empty()) out += fmt::format("  qstr links: {}\n", rc.qstr_links.size());
  if (rc.n_relocs) out += fmt::format("  relocations: {}\n", rc.n_relocs);
  if (rc.kind == CodeKind::Bytecode) {
    for (const Instruction& in : decode_bytecode(file, rc)) {
      std::span<const std::uint8_t> b(rc.data.data() + in.offset, in.size);
      out += fmt::format("  {:<11} {} {}", hex_bytes(b), mnemonic(in), operand_text(file, rc, in));
      if (in.target) out += fmt::format("  -> {}", *in.target);
      if (in.truncated) out += "  (truncated)";
      out += '\n';
    }
  } else {
    std::size_t end = rc.has_prelude ? rc.prelude_offset : rc.data.size();
    for (std::size_t i = 0; i < end; i += 16) {
      std::span<const std::uint8_t> b(rc.data.data() + i, std::min<std::size_t>(16, end - i));
      out += fmt::format("  {}\n", hex_bytes(b));
    }
  }
  std::string kids = "[";
  for (std::size_t i = 0; i < rc.children.size(); ++i) {
    if (i) kids += ", ";
    kids += rc.children[i].name;
  }
  out += fmt::format("  children: {}]\n", kids);
  for (const RawCode& c : rc.children) disasm_raw_code(file, c, out);
}

}  // namespace

void resolve_names(MpyFile& file) {
  name_tree(file, file.module);
  if (file.module.name.empty()) file.module.name = "<module>";
}

std::string disassembly_text(const MpyFile& file) {
  std::string out;
  const Header& h = file.header;
  out += fmt::format("mpy_source_file: {}\n", file.source);
  if (file.module.has_prelude && file.module.prelude.source_file)
    out += fmt::format("source_file: {}\n", qstr_text(file, *file.module.prelude.source_file));
  else if (!is_old(file) && !file.qstrs.empty())
    out += fmt::format("source_file: {}\n", file.qstrs[0].text);
  out += fmt::format("header: {:02x}:{:02x}:{:02x}:{:02x}\n", static_cast<unsigned>(h.magic),
                     h.version, h.feature_byte, h.small_int_bits);
  out += fmt::format("version: {}{}\n", h.version,
                     h.sub_version ? fmt::format(".{}", *h.sub_version) : "");
  out += fmt::format("arch: {}\n", arch_name(h.arch));
  if (h.arch_flags) out += fmt::format("arch_flags: {:#x}\n", *h.arch_flags);
  if (h.version == 4 || h.version == 5)
    out += fmt::format("qstr_window_size: {}\n", h.qstr_window_size);
  out += fmt::format("qstr_table[{}]:\n", file.qstrs.size());
  for (const Qstr& q : file.qstrs) out += fmt::format("    {}\n", q.text);
  if (!is_old(file)) {
    std::string objs = "[";
    for (std::size_t i = 0; i < file.objs.size(); ++i) {
      if (i) objs += ", ";
      objs += py_repr(file.objs[i]);
    }
    out += fmt::format("obj_table: {}]\n", objs);
  }
  disasm_raw_code(file, file.module, out);
  return out;
}

}  // namespace mpheap::mpy
