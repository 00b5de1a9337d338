// The disassembly text in the format of mpy-tool.py -d. It is written for whole directories
// of files, so the per-instruction lines are appended by hand into the caller's buffer: no
// format string parsed and no string allocated per instruction.
#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "mpheap/mpy/disasm.h"
#include "mpheap/mpy/pyrepr.h"
#include "mpheap/util/text_append.h"

namespace mpheap::mpy {
namespace {

bool is_old(const MpyFile& f) {
  return f.header.version < 6;
}

std::span<const std::uint8_t> bytes_of(const RawCode& rc, std::size_t from, std::size_t n) {
  return {rc.data.data() + from, n};
}

// "  3f:02      LOAD_FAST 3 x  -> 12": hex bytes padded to 11 columns, mnemonic, operand.
// The fixed part of the line is put together on the stack and appended at once.
void instruction_line(std::string& out, const MpyFile& file, const RawCode& rc,
                      const Instruction& in, std::span<const std::string> obj_reprs) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::uint8_t* b = rc.data.data() + in.offset;
  if (in.size > 16) {  // a truncated operand: the rest of the data
    out += "  ";
    std::size_t start = out.size();
    append_hex_bytes(out, bytes_of(rc, in.offset, in.size));
    if (std::size_t w = out.size() - start; w < 11) out.append(11 - w, ' ');
    out += ' ';
  } else {
    char line[2 + 48 + 1];
    char* p = line;
    *p++ = ' ';
    *p++ = ' ';
    for (std::uint32_t i = 0; i < in.size; ++i) {
      if (i) *p++ = ':';
      *p++ = kHex[b[i] >> 4];
      *p++ = kHex[b[i] & 15];
    }
    while (p < line + 13) *p++ = ' ';
    *p++ = ' ';
    out.append(line, p);
  }
  append_mnemonic(out, in);
  out += ' ';
  append_operand_text(out, file, rc, in, obj_reprs);
  if (in.target) {
    out += "  -> ";
    append_int(out, *in.target);
  }
  if (in.truncated) out += "  (truncated)";
  out += '\n';
}

void prelude_lines(std::string& out, const MpyFile& file, const RawCode& rc) {
  const Prelude& p = rc.prelude;
  fmt::format_to(std::back_inserter(out), "  prelude: ({}, {}, {}, {}, {}, {})\n", p.n_state,
                 p.n_exc_stack, p.scope_flags, p.n_pos_args, p.n_kwonly_args, p.n_def_pos_args);
  out += "  args: [";
  for (std::size_t i = 0; i < p.arg_names.size(); ++i) {
    if (i) out += ", ";
    append_py_str_repr(out, qstr_text(file, p.arg_names[i]));
  }
  out += "]\n  line info: ";
  append_hex_bytes(out, bytes_of(rc, rc.line_info_offset, rc.line_info_end - rc.line_info_offset));
  out += '\n';
  if (!rc.lines.empty()) {
    out += "  lines (line@bytecode offset):";
    for (const auto& l : rc.lines) {
      out += ' ';
      append_int(out, l.line);
      out += '@';
      append_int(out, l.bc_offset);
    }
    out += '\n';
  }
}

void raw_code_text(std::string& out, const MpyFile& file, const RawCode& rc,
                   std::span<const std::string> obj_reprs) {
  out += "simple_name: ";
  out += rc.name;
  out += '\n';
  if (rc.kind == CodeKind::Bytecode) {
    out += "  raw bytecode: ";
    append_int(out, rc.data.size());
    out += ' ';
    append_hex_bytes(out, rc.data);
    out += '\n';
  } else {
    out += "  raw data: ";
    append_int(out, rc.data.size());
    out += ' ';
    append_hex_bytes(out, bytes_of(rc, 0, std::min<std::size_t>(rc.data.size(), 32)));
    out += rc.data.size() > 32 ? " ...\n" : " \n";
    out += "  kind: ";
    out += code_kind_name(rc.kind);
    out += '\n';
  }
  if (rc.has_prelude) prelude_lines(out, file, rc);
  if (is_old(file) && rc.kind != CodeKind::Asm) {
    out += "  consts: [";
    for (std::size_t i = 0; i < rc.consts.size(); ++i) {
      if (i) out += ", ";
      append_py_repr(out, rc.consts[i]);
    }
    out += "]\n";
  }
  if (!rc.qstr_links.empty()) {
    out += "  qstr links: ";
    append_int(out, rc.qstr_links.size());
    out += '\n';
  }
  if (rc.n_relocs) {
    out += "  relocations: ";
    append_int(out, rc.n_relocs);
    out += '\n';
  }
  if (rc.kind == CodeKind::Bytecode) {
    BytecodeDecoder decoder(file, rc);
    for (std::size_t ip = rc.code_offset; ip < rc.data.size();) {
      Instruction in = decoder.at(ip);
      instruction_line(out, file, rc, in, obj_reprs);
      ip += in.size;
    }
  } else {
    std::size_t end = rc.has_prelude ? rc.prelude_offset : rc.data.size();
    for (std::size_t i = 0; i < end; i += 16) {
      out += "  ";
      append_hex_bytes(out, bytes_of(rc, i, std::min<std::size_t>(16, end - i)));
      out += '\n';
    }
  }
  out += "  children: [";
  for (std::size_t i = 0; i < rc.children.size(); ++i) {
    if (i) out += ", ";
    out += rc.children[i].name;
  }
  out += "]\n";
  for (const RawCode& c : rc.children) raw_code_text(out, file, c, obj_reprs);
}

}  // namespace

void append_disassembly(std::string& out, const MpyFile& file) {
  const Header& h = file.header;
  auto it = std::back_inserter(out);
  out += "mpy_source_file: ";
  out += file.source;
  out += '\n';
  if (file.module.has_prelude && file.module.prelude.source_file)
    fmt::format_to(it, "source_file: {}\n", qstr_text(file, *file.module.prelude.source_file));
  else if (!is_old(file) && !file.qstrs.empty())
    fmt::format_to(it, "source_file: {}\n", file.qstrs[0].text);
  fmt::format_to(it, "header: {:02x}:{:02x}:{:02x}:{:02x}\n", static_cast<unsigned>(h.magic),
                 h.version, h.feature_byte, h.small_int_bits);
  fmt::format_to(it, "version: {}", h.version);
  if (h.sub_version) fmt::format_to(it, ".{}", *h.sub_version);
  fmt::format_to(it, "\narch: {}\n", arch_name(h.arch));
  if (h.arch_flags) fmt::format_to(it, "arch_flags: {:#x}\n", *h.arch_flags);
  if (h.version == 4 || h.version == 5)
    fmt::format_to(it, "qstr_window_size: {}\n", h.qstr_window_size);
  fmt::format_to(it, "qstr_table[{}]:\n", file.qstrs.size());
  for (const Qstr& q : file.qstrs) {
    out += "    ";
    out += q.text;
    out += '\n';
  }
  std::vector<std::string> obj_reprs = object_reprs(file);
  if (!is_old(file)) {
    out += "obj_table: [";
    for (std::size_t i = 0; i < obj_reprs.size(); ++i) {
      if (i) out += ", ";
      out += obj_reprs[i];
    }
    out += "]\n";
  }
  raw_code_text(out, file, file.module, obj_reprs);
}

std::string disassembly_text(const MpyFile& file) {
  std::string out;
  append_disassembly(out, file);
  return out;
}

}  // namespace mpheap::mpy
