#include "mpheap/heap/python_frames.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <unordered_map>

namespace mpheap::heap {
namespace {

constexpr std::size_t kMaxFunctions = 1 << 16;  // function objects kept at once

std::uint64_t load(const std::uint8_t* p, std::size_t n, bool little_endian) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i)
    v |= static_cast<std::uint64_t>(p[little_endian ? i : n - 1 - i]) << (8 * i);
  return v;
}

bool plausible_name(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) != 0x7f;
  });
}

}  // namespace

std::string PythonFrame::describe() const {
  if (!resolved()) return fmt::format("?? ({})", missing);
  return fmt::format("{} ({}:{})", function, file, line);
}

std::string PythonFrame::slot(std::uint64_t address, std::uint32_t word_size) const {
  if (state == 0 || address < state || address >= state + std::uint64_t{n_state} * word_size ||
      (address - state) % word_size != 0)
    return "";
  const auto index = static_cast<std::uint32_t>((address - state) / word_size);
  const std::uint32_t local = n_state - 1 - index;  // locals count down from the top
  if (local < arg_names.size()) return fmt::format("argument `{}`", arg_names[local]);
  return "a local or temporary";
}

PythonFrameReader::PythonFrameReader(const target::Target& t, std::uint64_t load_bias)
    : t_(t), bias_(load_bias) {}

bool PythonFrameReader::bytes(std::uint64_t address, std::size_t n, std::uint8_t* out,
                              const MemoryRead& read) {
  ++reads_;
  return read(address, n, out);
}

std::optional<std::uint64_t> PythonFrameReader::word(std::uint64_t address,
                                                     const MemoryRead& read) {
  std::array<std::uint8_t, 8> b{};
  if (!bytes(address, t_.word_size, b.data(), read)) return std::nullopt;
  return load(b.data(), t_.word_size, t_.little_endian);
}

const std::vector<PythonFrameReader::Pool>& PythonFrameReader::pools(const MemoryRead& read) {
  if (pools_read_) return pools_;
  pools_read_ = true;
  pools_.clear();
  const target::QstrPoolLayout& q = t_.qstr_pool;
  if (!t_.mp_state_ctx || !t_.state.vm_last_pool || !q.qstrs || !q.len || !q.total_prev_len ||
      q.size == 0 || q.size > 256)
    return pools_;
  const std::uint64_t W = t_.word_size;
  const std::uint64_t prev_mask = W >= 8 ? ~0ULL >> 1 : 0x7fffffffULL;  // is_sorted: the top bit
  auto pool = word(*t_.mp_state_ctx + bias_ + *t_.state.vm_last_pool, read);
  std::array<std::uint8_t, 256> header{};
  // From the newest pool back, down to the ROM's (whose qstrs the target already has).
  for (int depth = 0; pool && *pool != 0 && depth < 64; ++depth) {
    if (!bytes(*pool, q.size, header.data(), read)) break;
    auto field = [&](std::uint64_t offset) {
      return load(header.data() + offset, W, t_.little_endian);
    };
    Pool p;
    p.address = *pool;
    p.first = field(*q.total_prev_len) & prev_mask;
    p.len = field(*q.len);
    p.lengths = q.lengths ? field(*q.lengths) : 0;
    pools_.push_back(p);
    if (p.first <= t_.rom_qstrs.size() || !q.prev) break;
    pool = field(*q.prev);
  }
  return pools_;
}

std::optional<std::string> PythonFrameReader::qstr(std::uint64_t id, const MemoryRead& read) {
  if (id < t_.rom_qstrs.size()) return t_.rom_qstrs[id];
  if (auto it = qstrs_.find(id); it != qstrs_.end()) return it->second;
  const target::QstrPoolLayout& q = t_.qstr_pool;
  const std::uint64_t W = t_.word_size;
  for (const Pool& pool : pools(read)) {
    if (id < pool.first || id - pool.first >= pool.len) continue;
    const std::uint64_t i = id - pool.first;
    auto p = word(pool.address + *q.qstrs + i * W, read);
    if (!p) return std::nullopt;
    std::uint64_t text = *p;
    std::array<std::uint8_t, 2> nb{};
    if (q.lengths) {
      if (!bytes(pool.lengths + i * q.len_bytes, q.len_bytes, nb.data(), read)) return std::nullopt;
    } else {  // before 1.19: hash and length bytes before the string
      if (!bytes(*p + q.hash_bytes, q.len_bytes, nb.data(), read)) return std::nullopt;
      text = *p + q.hash_bytes + q.len_bytes;
    }
    const std::uint64_t n = load(nb.data(), q.len_bytes, t_.little_endian);
    std::string s(n, '\0');
    if (n > 0 && !bytes(text, n, reinterpret_cast<std::uint8_t*>(s.data()), read))
      return std::nullopt;
    qstrs_.emplace(id, s);
    return s;
  }
  return std::nullopt;
}

PythonFrameReader::Function PythonFrameReader::read_function(std::uint64_t fun_bc,
                                                             const MemoryRead& read) {
  pools_read_ = false;  // new pools may have come since the last function was read
  Function f;
  const target::ObjectLayout& L = t_.objects;
  auto second = word(fun_bc + L.fun_bc_context, read);
  if (!second) {
    f.missing = fmt::format("function object 0x{:x} not readable", fun_bc);
    return f;
  }
  // Before 1.19 the second word is the globals dict; since, a module context.
  const target::Symbol* dict_type = t_.find_symbol("mp_type_dict");
  auto second_base = word(*second, read);
  const bool globals =
      dict_type != nullptr && second_base && *second_base == dict_type->address + bias_;
  auto bytecode =
      word(fun_bc + (globals ? L.fun_bc_bytecode_before_1_19 : L.fun_bc_bytecode), read);
  if (!bytecode || *bytecode == 0) {
    f.missing = fmt::format("bytecode pointer of function 0x{:x} not readable", fun_bc);
    return f;
  }
  f.bytecode = *bytecode;
  // Since 1.19 qstrs in bytecode are indices into the module's qstr table when the context's
  // constants start with a pointer to one; else they start with the source file's qstr.
  std::optional<std::uint64_t> qstr_table, context_file;
  if (!globals) {
    auto first_constant = word(*second + L.context_qstr_table, read);
    if (first_constant && *first_constant > 0xffff)
      qstr_table = *first_constant;
    else if (first_constant)
      context_file = *first_constant;
  }
  // Each index once per function (the code info is parsed up to three times, and a corrupt one
  // may name the same index many times): bounded work.
  std::unordered_map<std::uint64_t, std::optional<std::string>> resolved;
  auto resolve = [&](std::uint64_t index) -> std::optional<std::string> {
    if (auto it = resolved.find(index); it != resolved.end()) return it->second;
    const std::uint64_t key = index;
    if (qstr_table) {
      std::array<std::uint8_t, 2> e{};
      if (!bytes(*qstr_table + 2 * index, 2, e.data(), read)) return std::nullopt;
      index = load(e.data(), 2, t_.little_endian);
    }
    auto s = qstr(index, read);
    if (s && !plausible_name(*s)) s.reset();
    resolved.emplace(key, s);
    return s;
  };
  // The prelude and code info: 64 bytes, more when they are longer (a long line table), less
  // when the bytecode ends near the end of readable memory.
  for (std::size_t n : {64, 512, 4096}) {
    f.bytes.assign(n, 0);
    bool whole = bytes(*bytecode, n, f.bytes.data(), read);
    for (std::size_t m = n / 2; !whole && m >= 16; m /= 2) {
      f.bytes.assign(m, 0);
      whole = bytes(*bytecode, m, f.bytes.data(), read);
      if (whole) n = 0;  // no more to read past this
    }
    if (!whole) break;
    std::vector<std::optional<CodeInfo>> candidates;
    if (!globals) {
      candidates.push_back(read_code_info(f.bytes, QstrCoding::var_uint, false));
    } else {
      for (QstrCoding c : {QstrCoding::var_uint, QstrCoding::two_bytes}) {
        candidates.push_back(read_code_info_old(f.bytes, c));
        candidates.push_back(read_code_info(f.bytes, c, true));
      }
    }
    for (const std::optional<CodeInfo>& info : candidates) {
      if (!info) continue;
      auto name = resolve(info->name);
      if (!name) continue;
      std::optional<std::string> file;
      if (info->source_file)
        file = resolve(*info->source_file);
      else if (qstr_table)
        file = resolve(0);  // the module's table starts with its source file
      else if (context_file)
        file = qstr(*context_file, read);
      if (!file) continue;
      f.arg_names.clear();
      for (std::uint64_t a : info->arg_names) f.arg_names.push_back(resolve(a).value_or("?"));
      f.name = std::move(*name);
      f.file = std::move(*file);
      f.info = *info;
      f.bytes.resize(info->info_end);
      return f;
    }
    if (n == 0) break;
  }
  f.bytes.clear();
  f.missing = fmt::format("the prelude of bytecode 0x{:x} does not decode", *bytecode);
  return f;
}

PythonFrame PythonFrameReader::frame(std::uint64_t code_state, const MemoryRead& read) {
  PythonFrame out;
  out.code_state = code_state;
  const target::ObjectLayout& L = t_.objects;
  const std::uint64_t head = L.code_state_state;
  std::array<std::uint8_t, 128> h{};
  if (head == 0 || head > h.size() || !bytes(code_state, head, h.data(), read)) {
    out.missing = fmt::format("code_state 0x{:x} not readable", code_state);
    return out;
  }
  const std::uint64_t fun_bc = load(h.data() + L.code_state_fun_bc, t_.word_size, t_.little_endian);
  const std::uint64_t ip = load(h.data() + L.code_state_ip, t_.word_size, t_.little_endian);
  out.n_state =
      static_cast<std::uint32_t>(load(h.data() + L.code_state_n_state, 2, t_.little_endian));
  out.state = code_state + head;
  auto it = functions_.find(fun_bc);
  if (it == functions_.end()) {
    // Bounded: a stack unwound wrongly can hand over any address.
    if (functions_.size() >= kMaxFunctions) functions_.clear();
    it = functions_.emplace(fun_bc, read_function(fun_bc, read)).first;
  }
  const Function& f = it->second;
  if (!f.missing.empty()) {
    out.missing = f.missing;
    return out;
  }
  const std::uint64_t first_opcode = f.bytecode + f.info.code_start;
  if (ip < first_opcode || ip - first_opcode > (1u << 24)) {
    out.missing =
        fmt::format("ip 0x{:x} is not in the bytecode of {} at 0x{:x}", ip, f.name, f.bytecode);
    return out;
  }
  out.function = f.name;
  out.file = f.file;
  out.line = source_line(f.bytes, f.info, ip - first_opcode);
  out.arg_names = f.arg_names;
  return out;
}

void PythonFrameReader::forget(std::uint64_t address) {
  functions_.erase(address);
  // A function whose bytecode was in that block (its object is freed with it in practice).
  std::erase_if(functions_, [&](const auto& e) { return e.second.bytecode == address; });
}

}  // namespace mpheap::heap
