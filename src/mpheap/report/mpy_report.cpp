// Text and JSON presentation of .mpy models and size breakdowns.
#include "mpheap/report/mpy_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "mpheap/mpy/disasm.h"
#include "mpheap/mpy/pyrepr.h"
#include "mpheap/report/output.h"

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
  out += '{';
  for (std::size_t i = 0; i < kPartCount; ++i) {
    if (i) out += ',';
    std::string key = part_name(static_cast<Part>(i));
    std::replace(key.begin(), key.end(), ' ', '_');
    out += fmt::format("\"{}\":{}", key, p[i]);
  }
  out += '}';
}

void add_str(std::string& out, std::string_view s) {
  report::append_json_string(out, s);
}

void add_raw_code(std::string& out, const MpyFile& file, const RawCode& rc, bool with_ins) {
  out += "{\"name\":";
  add_str(out, rc.name);
  out += fmt::format(",\"kind\":\"{}\",\"file_offset\":{},\"data_size\":{},\"size\":{},\"sizes\":",
                     code_kind_name(rc.kind), rc.file_offset, rc.data.size(), rc.own_size());
  add_part_sizes(out, rc.sizes);
  if (rc.has_prelude) {
    const Prelude& p = rc.prelude;
    out += fmt::format(
        ",\"prelude\":{{\"n_state\":{},\"n_exc_stack\":{},\"scope_flags\":{},\"n_pos_args\":{},"
        "\"n_kwonly_args\":{},\"n_def_pos_args\":{},\"n_info\":{},\"n_cell\":{},\"args\":[",
        p.n_state, p.n_exc_stack, p.scope_flags, p.n_pos_args, p.n_kwonly_args, p.n_def_pos_args,
        p.n_info, p.n_cell);
    for (std::size_t i = 0; i < p.arg_names.size(); ++i) {
      if (i) out += ',';
      add_str(out, p.arg_names[i] < file.qstrs.size() ? file.qstrs[p.arg_names[i]].text : "?");
    }
    out += "]}";
    out += ",\"lines\":[";
    for (std::size_t i = 0; i < rc.lines.size(); ++i)
      out += fmt::format("{}[{},{}]", i ? "," : "", rc.lines[i].bc_offset, rc.lines[i].line);
    out += ']';
  }
  if (rc.kind != CodeKind::Bytecode) {
    out += fmt::format(
        ",\"native\":{{\"scope_flags\":{},\"qstr_links\":{},\"relocations\":{},"
        "\"rodata_size\":{},\"bss_size\":{},\"prelude_offset\":{}}}",
        rc.native_scope_flags, rc.qstr_links.size(), rc.n_relocs, rc.rodata_size, rc.bss_size,
        rc.prelude_offset);
  }
  if (file.header.version < 6 && rc.kind != CodeKind::Asm) {
    out += ",\"constants\":[";
    for (std::size_t i = 0; i < rc.consts.size(); ++i) {
      if (i) out += ',';
      add_str(out, py_repr(rc.consts[i]));
    }
    out += ']';
  }
  if (rc.kind == CodeKind::Bytecode && with_ins) {
    out += ",\"instructions\":[";
    bool first = true;
    for (const Instruction& in : decode_bytecode(file, rc)) {
      if (!first) out += ',';
      first = false;
      out += fmt::format("{{\"offset\":{},\"size\":{},\"opcode\":\"{}\"",
                         in.offset - rc.code_offset, in.size, in.info->name);
      switch (in.info->operand) {
        case Operand::None:
          break;
        case Operand::Qstr:
          out += ",\"qstr\":";
          add_str(out, operand_text(file, rc, in));
          break;
        case Operand::Const:
          out += fmt::format(",\"arg\":{},\"const\":", in.arg);
          add_str(out, operand_text(file, rc, in));
          break;
        case Operand::Implicit:
          out += fmt::format(",\"arg\":{}", in.arg);
          if (!in.info->op_name.empty()) out += fmt::format(",\"op\":\"{}\"", in.info->op_name);
          break;
        case Operand::Child:
          out += fmt::format(",\"arg\":{}", in.arg);
          if (auto c = child_index(file, rc, in.arg)) out += fmt::format(",\"child\":{}", *c);
          break;
        default:
          out += fmt::format(",\"arg\":{}", in.arg);
      }
      if (in.target) out += fmt::format(",\"target\":{}", *in.target - rc.code_offset);
      if (in.extra) out += fmt::format(",\"extra\":{}", *in.extra);
      if (in.truncated) out += ",\"truncated\":true";
      out += '}';
    }
    out += ']';
  }
  out += ",\"children\":[";
  for (std::size_t i = 0; i < rc.children.size(); ++i) {
    if (i) out += ',';
    add_raw_code(out, file, rc.children[i], with_ins);
  }
  out += "]}";
}

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
  out += fmt::format(",\"size\":{},\"header\":{{\"magic\":\"{}\",\"version\":{},", file.size,
                     h.magic, h.version);
  if (h.sub_version) out += fmt::format("\"sub_version\":{},", *h.sub_version);
  out += fmt::format("\"feature_byte\":{},\"arch\":\"{}\",\"arch_number\":{},\"small_int_bits\":{}",
                     h.feature_byte, arch_name(h.arch), h.arch, h.small_int_bits);
  if (h.arch_flags) out += fmt::format(",\"arch_flags\":{}", *h.arch_flags);
  if (h.version == 4 || h.version == 5)
    out += fmt::format(",\"qstr_window_size\":{}", h.qstr_window_size);
  out += "},\"qstrs\":[";
  for (std::size_t i = 0; i < file.qstrs.size(); ++i) {
    if (i) out += ',';
    add_str(out, file.qstrs[i].text);
  }
  out += "],\"objects\":[";
  for (std::size_t i = 0; i < file.objs.size(); ++i) {
    if (i) out += ',';
    add_str(out, py_repr(file.objs[i]));
  }
  FileSizes s = size_breakdown(file);
  out += "],\"sizes\":";
  add_part_sizes(out, s.parts);
  out += ",\"module\":";
  add_raw_code(out, file, file.module, with_instructions);
  out += '}';
}

std::string json_document(std::span<const std::string> file_objects,
                          std::span<const Error> errors) {
  std::string out =
      fmt::format("{{\"format\":\"mpheap-mpy\",\"version\":{},\"files\":[", kMpyJsonFormatVersion);
  for (std::size_t i = 0; i < file_objects.size(); ++i) {
    if (i) out += ',';
    out += file_objects[i];
  }
  out += "],\"errors\":[";
  for (std::size_t i = 0; i < errors.size(); ++i) {
    if (i) out += ',';
    out += "{\"path\":";
    add_str(out, errors[i].source);
    out += fmt::format(",\"offset\":{},\"message\":", errors[i].offset);
    add_str(out, errors[i].what);
    out += '}';
  }
  out += "]}\n";
  return out;
}

}  // namespace mpheap::report
