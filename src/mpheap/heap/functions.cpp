#include "mpheap/heap/functions.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <span>

#include "mpheap/heap/code_info.h"
#include "mpheap/mpy/cursor.h"

namespace mpheap::heap {
namespace {

using Bytes = std::span<const std::uint8_t>;

bool looks_like_identifier(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  if (s.front() == '<' && s.back() == '>') return true;  // <lambda>, <module>, <listcomp>
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           static_cast<unsigned char>(c) >= 0x80;
  });
}

bool looks_like_file(const std::string& s) {
  if (s.empty() || s.size() > 256) return false;
  return (s.front() == '<' && s.back() == '>') ||
         (s.size() > 3 && (s.ends_with(".py") || s.ends_with(".mpy"))) ||
         s.find('/') != std::string::npos;
}

}  // namespace

std::vector<FunctionInfo> decode_functions(Snapshot& s, const ObjectReader& reader,
                                           const target::Target& t) {
  std::vector<FunctionInfo> out;
  const target::Symbol* fun_bc = t.find_symbol("mp_type_fun_bc");
  if (fun_bc == nullptr) return out;
  // Since 1.12 a generator function is a bytecode function whose type is mp_type_gen_wrap;
  // before, a {base, fun} wrapper around a fun_bc object that is decoded on its own.
  const target::Symbol* gen_wrap = t.find_symbol("mp_type_gen_wrap");
  const std::uint64_t bias = s.load_bias;
  const target::Symbol* dict_type = t.find_symbol("mp_type_dict");
  const target::Symbol* module_type = t.find_symbol("mp_type_module");
  const std::uint64_t W = t.word_size;
  const target::ObjectLayout& L = t.objects;
  std::vector<std::uint64_t> bytecode_blocks;
  std::vector<std::uint64_t> contexts;  // module contexts (since 1.19): {module, dict, ...}
  std::vector<std::pair<std::uint64_t, ObjectKind>> tables;  // what the functions point at
  for (const HeapObject& o : s.objects) {
    if (!o.has_type_pointer) continue;
    const bool generator = gen_wrap != nullptr && o.first_word == gen_wrap->address + bias;
    if (o.first_word != fun_bc->address + bias && !generator) continue;
    FunctionInfo f;
    f.object = o.address;
    // The object's generation: what its second word points at.
    auto second = reader.read_word(o.address + L.fun_bc_context);
    auto is_dict = [&](std::optional<std::uint64_t> p) {
      if (!p || dict_type == nullptr) return false;
      auto base = reader.read_word(*p);
      return base && *base == dict_type->address + bias;
    };
    // Before 1.19 the globals dict itself; since, a module context {module base (the module
    // type, or 0 for code run from a file or the REPL), globals dict, constants...}.
    bool globals = is_dict(second);
    bool context = false;
    if (!globals && second) {
      auto base = reader.read_word(*second);
      context = base && (*base == 0 || (module_type && *base == module_type->address + bias)) &&
                is_dict(reader.read_word(*second + L.context_globals));
    }
    if (!context && !globals) {
      if (!generator) out.push_back(std::move(f));
      continue;
    }
    if (context) {
      contexts.push_back(*second);
      // {base, context, child_table, bytecode}: the child table lists the raw code of the
      // functions and classes this one defines.
      if (auto children = reader.read_word(o.address + L.fun_bc_child_table);
          children && *children != 0)
        tables.emplace_back(*children, ObjectKind::child_table);
      // The context's constants: the module's qstr table (when bytecode uses one) and its
      // object table.
      if (auto q = reader.read_word(*second + L.context_qstr_table); q && *q > 0xffff)
        tables.emplace_back(*q, ObjectKind::qstr_table);
      if (auto objs = reader.read_word(*second + L.context_obj_table); objs && *objs != 0)
        tables.emplace_back(*objs, ObjectKind::constant_table);
    }
    auto bc =
        reader.read_word(o.address + (context ? L.fun_bc_bytecode : L.fun_bc_bytecode_before_1_19));
    if (!bc) {
      out.push_back(std::move(f));
      continue;
    }
    f.bytecode = *bc;
    // The bytes from the bytecode to the end of its allocation (or 4 KiB outside the heap).
    const HeapObject* block = reader.object_at(*bc);
    std::uint64_t avail =
        block != nullptr ? block->address + block->blocks * t.block_size - *bc : 4096;
    std::vector<std::uint8_t> bytes;
    for (std::uint64_t n = std::min<std::uint64_t>(avail, 1u << 20); n > 0 && bytes.empty();
         n /= 2) {
      if (auto v = reader.bytes(*bc, n)) bytes.assign(v->begin(), v->end());
    }
    if (bytes.empty()) {
      out.push_back(std::move(f));
      continue;
    }
    Bytes b(bytes);

    // Since 1.19 qstrs in bytecode may be indices into the module's qstr table: the context's
    // constants start with that table (a pointer) or with the source file (a qstr number).
    std::optional<std::uint64_t> qstr_table;
    std::optional<std::uint64_t> context_file;
    if (context) {
      auto first_constant = reader.read_word(*second + L.context_qstr_table);
      if (first_constant && reader.bytes(*first_constant, 2) && *first_constant > 0xffff)
        qstr_table = *first_constant;
      else if (first_constant)
        context_file = *first_constant;
    }
    auto resolve = [&](std::uint64_t q) -> std::optional<std::string> {
      if (qstr_table) {
        auto entry = reader.bytes(*qstr_table + 2 * q, 2);
        if (!entry) return std::nullopt;
        q = static_cast<std::uint8_t>((*entry)[0]) |
            (static_cast<std::uint64_t>(static_cast<std::uint8_t>((*entry)[1])) << 8);
      }
      return reader.qstr(q);
    };

    std::vector<std::optional<CodeInfo>> candidates;
    if (context) {
      candidates.push_back(read_code_info(b, QstrCoding::var_uint, false));
    } else {
      for (QstrCoding c : {QstrCoding::var_uint, QstrCoding::two_bytes}) {
        candidates.push_back(read_code_info_old(b, c));
        candidates.push_back(read_code_info(b, c, true));
      }
    }
    for (const std::optional<CodeInfo>& r : candidates) {
      if (!r) continue;
      auto name = resolve(r->name);
      if (!name || !looks_like_identifier(*name)) continue;
      std::optional<std::string> file;
      if (r->source_file) {
        file = resolve(*r->source_file);
        if (!file || !looks_like_file(*file)) continue;
      } else if (qstr_table) {
        file = resolve(0);  // the table's first entry is the source file
      } else if (context_file) {
        file = reader.qstr(*context_file);
      }
      std::vector<std::string> args;
      bool args_ok = true;
      for (std::uint64_t a : r->arg_names) {
        auto n = resolve(a);
        // "*" names a closed-over variable passed as an argument.
        if (!n || (*n != "*" && !looks_like_identifier(*n))) args_ok = false;
        if (n) args.push_back(*n);
      }
      if (!args_ok) continue;
      auto lines = mpy::detail::decode_lines(b, r->lines_start, r->info_end);
      f.name = *name;
      f.source_file = file.value_or("");
      f.arg_names = std::move(args);
      f.n_pos_args = r->prelude.n_pos_args;
      f.n_kwonly_args = r->prelude.n_kwonly_args;
      // A step too large for one entry is split into several at the same offset: only the
      // last of them names a line that has code.
      for (std::size_t i = 0; i < lines.size(); ++i) {
        if (i + 1 < lines.size() && lines[i + 1].bc_offset == lines[i].bc_offset) continue;
        if (f.first_line == 0 || lines[i].line < f.first_line) f.first_line = lines[i].line;
        f.last_line = std::max(f.last_line, lines[i].line);
      }
      f.bytecode_bytes = bytes.size();
      break;
    }
    if (!f.name.empty() && block != nullptr && block->address == *bc)
      bytecode_blocks.push_back(*bc);
    s.objects[static_cast<std::size_t>(&o - s.objects.data())].set_function(
        s.names.intern(describe(f)));
    out.push_back(std::move(f));
  }
  for (std::uint64_t a : bytecode_blocks) label_block(s, reader, a, ObjectKind::bytecode);
  // A module context {module or NULL, globals dict, constants} on the heap: code compiled at
  // run time (a script, the REPL) has no module object, so the compiler allocates one.
  for (std::uint64_t a : contexts) label_block(s, reader, a, ObjectKind::module_context);
  auto label = [&](std::uint64_t a, ObjectKind what) { return label_block(s, reader, a, what); };
  // Child tables hold the mp_raw_code_t of the functions and classes defined inside (up to the
  // first NULL); a raw code is {kind and flags, fun_data, children, ...}: its bytecode, when
  // its kind says bytecode (MP_CODE_BYTECODE = 2: the third byte since 1.22, the low 3 bits
  // before), and its own child table. Followed breadth first, each block once.
  for (std::size_t k = 0; k < tables.size(); ++k) {
    const auto [a, what] = tables[k];
    const HeapObject* block = reader.object_at(a);
    if (!label(a, what) || what != ObjectKind::child_table) continue;
    for (std::uint64_t p = a; p + W <= a + block->blocks * t.block_size; p += W) {
      auto child = reader.read_word(p);
      if (!child || *child == 0) break;
      if (!label(*child, ObjectKind::raw_code)) continue;
      auto head = reader.read_word(*child);
      const bool bytecode =
          head && ((*head & 0xffff) == 0 ? ((*head >> 16) & 0xff) == 2 : (*head & 7) == 2);
      if (!bytecode) continue;
      if (auto fun_data = reader.read_word(*child + L.raw_code_fun_data))
        label(*fun_data, ObjectKind::bytecode);
      if (auto children = reader.read_word(*child + L.raw_code_children);
          children && *children != 0)
        tables.emplace_back(*children, ObjectKind::child_table);
    }
  }
  return out;
}

std::string describe(const FunctionInfo& f) {
  if (f.name.empty()) return "";
  std::string where;
  if (!f.source_file.empty() && f.first_line != 0)
    where = f.first_line == f.last_line
                ? fmt::format(" ({}, line {})", f.source_file, f.first_line)
                : fmt::format(" ({}, lines {}-{})", f.source_file, f.first_line, f.last_line);
  else if (!f.source_file.empty())
    where = fmt::format(" ({})", f.source_file);
  return f.name + where;
}

std::vector<FunctionInfo> name_objects(Snapshot& s, const ObjectReader& reader,
                                       const target::Target& t) {
  name_instance_types(s, reader, t);
  label_headerless_blocks(s, reader, t);
  return decode_functions(s, reader, t);
}

}  // namespace mpheap::heap
