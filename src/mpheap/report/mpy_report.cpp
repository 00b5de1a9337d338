// Text and JSON presentation of .mpy models and size breakdowns.
#include "mpheap/report/mpy_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <vector>

#include "mpheap/mpy/disasm.h"
#include "mpheap/mpy/pyrepr.h"
#include "mpheap/report/output.h"
#include "mpheap/util/text_append.h"

namespace mpheap::report {
// This file presents the mpy layer's model throughout.
using namespace mpheap::mpy;  // NOLINT(google-build-using-namespace)
namespace {

std::string pct(std::uint64_t part, std::uint64_t whole) {
  return whole ? fmt::format("{:5.1f}%",
                             100.0 * static_cast<double>(part) / static_cast<double>(whole))
               : std::string("    -");
}

// Parts in the order shown; each column is the part's bytes.
constexpr Part kShown[] = {Part::Bytecode,    Part::Prelude,    Part::LineInfo,
                           Part::Qstrs,       Part::Constants,  Part::NativeCode,
                           Part::NativeLinks, Part::CodeHeader, Part::Header};

std::uint64_t at(const PartSizes& p, Part part) {
  return p[static_cast<std::size_t>(part)];
}

void parts_table(std::string& out, const PartSizes& parts, std::uint64_t whole) {
  std::vector<Part> order(std::begin(kShown), std::end(kShown));
  std::stable_sort(order.begin(), order.end(),
                   [&](Part a, Part b) { return at(parts, a) > at(parts, b); });
  for (Part p : order) {
    if (at(parts, p) == 0) continue;
    out +=
        fmt::format("  {:<14} {:>10}  {}\n", part_name(p), at(parts, p), pct(at(parts, p), whole));
  }
  out += fmt::format("  {:<14} {:>10}  {}\n", "total", total(parts), pct(total(parts), whole));
}

std::string function_header() {
  return fmt::format("  {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  {:<8} {}\n", "bytes", "bytecode",
                     "prelude", "lineinfo", "consts", "native", "kind", "function");
}

std::string function_row(const FunctionSize& f, const std::string& where) {
  return fmt::format("  {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  {:<8} {}\n", f.total,
                     at(f.parts, Part::Bytecode), at(f.parts, Part::Prelude),
                     at(f.parts, Part::LineInfo),
                     at(f.parts, Part::Constants) + at(f.parts, Part::Qstrs),
                     at(f.parts, Part::NativeCode) + at(f.parts, Part::NativeLinks),
                     code_kind_name(f.kind), where);
}

void add_part_sizes(std::string& out, const PartSizes& p) {
  // The part names as keys ("line info" -> "line_info"), made once.
  static const std::array<std::string, kPartCount> keys = [] {
    std::array<std::string, kPartCount> k;
    for (std::size_t i = 0; i < kPartCount; ++i) {
      k[i] = part_name(static_cast<Part>(i));
      std::replace(k[i].begin(), k[i].end(), ' ', '_');
    }
    return k;
  }();
  out += '{';
  for (std::size_t i = 0; i < kPartCount; ++i) {
    out += i ? ",\"" : "\"";
    out += keys[i];
    out += "\":";
    append_int(out, p[i]);
  }
  out += '}';
}

void add_str(std::string& out, std::string_view s) {
  report::append_json_string(out, s);
}

// What one file's raw codes share while they are written: the file, the v6 constants'
// repr() computed once, and a scratch buffer for operand text.
struct RawCodeWriter {
  RawCodeWriter(const MpyFile& f, bool with_instructions)
      : file(f), with_ins(with_instructions), obj_reprs(object_reprs(f)) {}

  const MpyFile& file;
  bool with_ins;
  std::vector<std::string> obj_reprs;
  std::string scratch;

  void instruction(std::string& out, const RawCode& rc, const Instruction& in) {
    out += "{\"offset\":";
    append_int(out, in.offset - rc.code_offset);
    out += ",\"size\":";
    append_int(out, in.size);
    out += ",\"opcode\":\"";
    out += in.info->name;
    out += '"';
    switch (in.info->operand) {
      case Operand::None:
        break;
      case Operand::Qstr:
        out += ",\"qstr\":";
        add_str(out, qstr_text(file, static_cast<std::uint64_t>(in.arg)));
        break;
      case Operand::Const:
        out += ",\"arg\":";
        append_int(out, in.arg);
        out += ",\"const\":";
        scratch.clear();
        append_operand_text(scratch, file, rc, in, obj_reprs);
        add_str(out, scratch);
        break;
      case Operand::Implicit:
        out += ",\"arg\":";
        append_int(out, in.arg);
        if (!in.info->op_name.empty()) {
          out += ",\"op\":\"";
          out += in.info->op_name;
          out += '"';
        }
        break;
      case Operand::Child:
        out += ",\"arg\":";
        append_int(out, in.arg);
        if (auto c = child_index(file, rc, in.arg)) {
          out += ",\"child\":";
          append_int(out, *c);
        }
        break;
      default:
        out += ",\"arg\":";
        append_int(out, in.arg);
    }
    if (in.target) {
      out += ",\"target\":";
      append_int(out, *in.target - rc.code_offset);
    }
    if (in.extra) {
      out += ",\"extra\":";
      append_int(out, *in.extra);
    }
    if (in.truncated) out += ",\"truncated\":true";
    out += '}';
  }

  void raw_code(std::string& out, const RawCode& rc) {
    auto it = std::back_inserter(out);
    out += "{\"name\":";
    add_str(out, rc.name);
    fmt::format_to(it,
                   ",\"kind\":\"{}\",\"file_offset\":{},\"data_size\":{},\"size\":{},\"sizes\":",
                   code_kind_name(rc.kind), rc.file_offset, rc.data.size(), rc.own_size());
    add_part_sizes(out, rc.sizes);
    if (rc.has_prelude) {
      const Prelude& p = rc.prelude;
      fmt::format_to(
          it,
          ",\"prelude\":{{\"n_state\":{},\"n_exc_stack\":{},\"scope_flags\":{},\"n_pos_args\":{},"
          "\"n_kwonly_args\":{},\"n_def_pos_args\":{},\"n_info\":{},\"n_cell\":{},\"args\":[",
          p.n_state, p.n_exc_stack, p.scope_flags, p.n_pos_args, p.n_kwonly_args, p.n_def_pos_args,
          p.n_info, p.n_cell);
      for (std::size_t i = 0; i < p.arg_names.size(); ++i) {
        if (i) out += ',';
        add_str(out, qstr_text(file, p.arg_names[i]));
      }
      out += "]},\"lines\":[";
      for (std::size_t i = 0; i < rc.lines.size(); ++i) {
        out += i ? ",[" : "[";
        append_int(out, rc.lines[i].bc_offset);
        out += ',';
        append_int(out, rc.lines[i].line);
        out += ']';
      }
      out += ']';
    }
    if (rc.kind != CodeKind::Bytecode) {
      fmt::format_to(it,
                     ",\"native\":{{\"scope_flags\":{},\"qstr_links\":{},\"relocations\":{},"
                     "\"rodata_size\":{},\"bss_size\":{},\"prelude_offset\":{}}}",
                     rc.native_scope_flags, rc.qstr_links.size(), rc.n_relocs, rc.rodata_size,
                     rc.bss_size, rc.prelude_offset);
    }
    if (file.header.version < 6 && rc.kind != CodeKind::Asm) {
      out += ",\"constants\":[";
      for (std::size_t i = 0; i < rc.consts.size(); ++i) {
        if (i) out += ',';
        scratch.clear();
        append_py_repr(scratch, rc.consts[i]);
        add_str(out, scratch);
      }
      out += ']';
    }
    if (rc.kind == CodeKind::Bytecode && with_ins) {
      out += ",\"instructions\":[";
      BytecodeDecoder decoder(file, rc);
      for (std::size_t ip = rc.code_offset; ip < rc.data.size();) {
        if (ip != rc.code_offset) out += ',';
        Instruction in = decoder.at(ip);
        instruction(out, rc, in);
        ip += in.size;
      }
      out += ']';
    }
    out += ",\"children\":[";
    for (std::size_t i = 0; i < rc.children.size(); ++i) {
      if (i) out += ',';
      raw_code(out, rc.children[i]);
    }
    out += "]}";
  }
};

}  // namespace

std::string sizes_text(std::span<const FileSizes> files, std::size_t top) {
  std::string out;
  if (files.size() == 1) {
    const FileSizes& f = files[0];
    out += fmt::format("{}  {} bytes, mpy v{}, {} raw codes\n", f.source, f.size, f.version,
                       f.functions.size());
    parts_table(out, f.parts, f.size);
    std::vector<const FunctionSize*> fs;
    for (const auto& fn : f.functions) fs.push_back(&fn);
    std::stable_sort(fs.begin(), fs.end(), [](auto* a, auto* b) { return a->total > b->total; });
    out += "\nfunctions, largest first (own bytes; children counted separately):\n";
    out += function_header();
    std::size_t shown = 0;
    for (const auto* fn : fs) {
      if (top && shown++ == top) break;
      out += function_row(*fn, fn->path);
    }
    if (top && fs.size() > top) out += fmt::format("  ... {} more\n", fs.size() - top);
    return out;
  }
  PartSizes all{};
  std::uint64_t bytes = 0;
  std::size_t n_funcs = 0;
  std::vector<const FileSizes*> order;
  std::vector<std::pair<const FunctionSize*, const FileSizes*>> fs;
  for (const auto& f : files) {
    order.push_back(&f);
    bytes += f.size;
    for (std::size_t i = 0; i < kPartCount; ++i) all[i] += f.parts[i];
    for (const auto& fn : f.functions) fs.push_back({&fn, &f});
    n_funcs += f.functions.size();
  }
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->size > b->size; });
  out += fmt::format("{} files, {} bytes, {} raw codes\n", files.size(), bytes, n_funcs);
  parts_table(out, all, bytes);
  out += "\nfiles, largest first:\n";
  out += fmt::format("  {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}  {}\n", "bytes", "bytecode",
                     "prelude", "lineinfo", "consts", "native", "codes", "file");
  std::size_t shown = 0;
  for (const auto* f : order) {
    if (top && shown++ == top) break;
    out += fmt::format("  {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}  {}\n", f->size,
                       at(f->parts, Part::Bytecode), at(f->parts, Part::Prelude),
                       at(f->parts, Part::LineInfo),
                       at(f->parts, Part::Constants) + at(f->parts, Part::Qstrs),
                       at(f->parts, Part::NativeCode) + at(f->parts, Part::NativeLinks),
                       f->functions.size(), f->source);
  }
  if (top && order.size() > top) out += fmt::format("  ... {} more\n", order.size() - top);
  std::stable_sort(fs.begin(), fs.end(),
                   [](auto& a, auto& b) { return a.first->total > b.first->total; });
  out += "\nlargest functions across all files:\n";
  out += function_header();
  shown = 0;
  for (const auto& [fn, f] : fs) {
    if (top && shown++ == top) break;
    out += function_row(*fn, f->source + ":" + fn->path);
  }
  return out;
}

void append_file_json(std::string& out, const MpyFile& file, bool with_instructions) {
  const Header& h = file.header;
  out += "{\"path\":";
  add_str(out, file.source);
  fmt::format_to(std::back_inserter(out),
                 ",\"size\":{},\"header\":{{\"magic\":\"{}\",\"version\":{},", file.size, h.magic,
                 h.version);
  if (h.sub_version) fmt::format_to(std::back_inserter(out), "\"sub_version\":{},", *h.sub_version);
  fmt::format_to(std::back_inserter(out),
                 "\"feature_byte\":{},\"arch\":\"{}\",\"arch_number\":{},\"small_int_bits\":{}",
                 h.feature_byte, arch_name(h.arch), h.arch, h.small_int_bits);
  if (h.arch_flags) fmt::format_to(std::back_inserter(out), ",\"arch_flags\":{}", *h.arch_flags);
  if (h.version == 4 || h.version == 5)
    fmt::format_to(std::back_inserter(out), ",\"qstr_window_size\":{}", h.qstr_window_size);
  out += "},\"qstrs\":[";
  for (std::size_t i = 0; i < file.qstrs.size(); ++i) {
    if (i) out += ',';
    add_str(out, file.qstrs[i].text);
  }
  RawCodeWriter w{file, with_instructions};
  out += "],\"objects\":[";
  for (std::size_t i = 0; i < w.obj_reprs.size(); ++i) {
    if (i) out += ',';
    add_str(out, w.obj_reprs[i]);
  }
  FileSizes s = size_breakdown(file);
  out += "],\"sizes\":";
  add_part_sizes(out, s.parts);
  out += ",\"module\":";
  w.raw_code(out, file.module);
  out += '}';
}

MpyJsonStream::MpyJsonStream(Output& out, bool with_instructions)
    : out_(out), with_instructions_(with_instructions) {
  fmt::format_to(std::back_inserter(out_.buffer()),
                 "{{\"format\":\"mpheap-mpy\",\"version\":{},\"files\":[", kMpyJsonFormatVersion);
}

void MpyJsonStream::add(const MpyFile& file) {
  std::string& out = out_.buffer();
  if (files_++) out += ',';
  append_file_json(out, file, with_instructions_);
  out_.maybe_flush();
}

void MpyJsonStream::finish(std::span<const Error> errors) {
  std::string& out = out_.buffer();
  out += "],\"errors\":[";
  for (std::size_t i = 0; i < errors.size(); ++i) {
    if (i) out += ',';
    out += "{\"path\":";
    add_str(out, errors[i].source);
    fmt::format_to(std::back_inserter(out), ",\"offset\":{},\"message\":", errors[i].offset);
    add_str(out, errors[i].what);
    out += '}';
  }
  out += "]}\n";
  out_.maybe_flush();
}

}  // namespace mpheap::report
