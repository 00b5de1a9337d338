#include "mpheap/heap/code_info.h"

#include "mpheap/mpy/cursor.h"

namespace mpheap::heap {
namespace {

using Bytes = std::span<const std::uint8_t>;

// Reads a var-uint at *pos, or nullopt past the end.
std::optional<std::uint64_t> var_uint(Bytes b, std::uint32_t* pos) {
  std::uint64_t v = 0;
  for (int i = 0; i < 5; ++i) {
    if (*pos >= b.size()) return std::nullopt;
    std::uint8_t c = b[(*pos)++];
    v = (v << 7) | (c & 0x7fu);
    if ((c & 0x80u) == 0) return v;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> qstr_at(Bytes b, std::uint32_t* pos, QstrCoding coding) {
  if (coding == QstrCoding::var_uint) return var_uint(b, pos);
  if (*pos + 2 > b.size()) return std::nullopt;
  std::uint64_t v = b[*pos] | (static_cast<std::uint64_t>(b[*pos + 1]) << 8);
  *pos += 2;
  return v;
}

}  // namespace

std::optional<CodeInfo> read_code_info_old(Bytes b, QstrCoding coding) {
  CodeInfo r;
  std::uint32_t pos = 0;
  auto n_state = var_uint(b, &pos);
  auto n_exc = var_uint(b, &pos);
  if (!n_state || !n_exc || *n_state == 0 || *n_state > 4096 || *n_exc > 256 || pos + 4 > b.size())
    return std::nullopt;
  r.prelude.n_state = static_cast<std::uint32_t>(*n_state);
  r.prelude.n_exc_stack = static_cast<std::uint32_t>(*n_exc);
  r.prelude.scope_flags = b[pos++];
  r.prelude.n_pos_args = b[pos++];
  r.prelude.n_kwonly_args = b[pos++];
  r.prelude.n_def_pos_args = b[pos++];
  r.info_start = pos;  // the code-info size counts from its own first byte
  auto size = var_uint(b, &pos);
  if (!size || *size == 0 || r.info_start + *size > b.size()) return std::nullopt;
  r.info_end = r.info_start + static_cast<std::uint32_t>(*size);
  auto name = qstr_at(b, &pos, coding);
  auto file = qstr_at(b, &pos, coding);
  if (!name || !file || pos > r.info_end) return std::nullopt;
  r.name = *name;
  r.source_file = *file;
  r.lines_start = pos;
  // Cells to convert: local numbers up to a 255.
  std::uint32_t c = r.info_end;
  while (c < b.size() && b[c] != 255) ++c;
  if (c >= b.size()) return std::nullopt;
  r.code_start = c + 1;
  return r;
}

std::optional<CodeInfo> read_code_info(Bytes b, QstrCoding coding, bool with_file) {
  CodeInfo r;
  std::uint32_t pos = 0;
  try {
    mpy::detail::decode_compressed_prelude(b, &pos, 0, &r.prelude);
  } catch (const mpy::detail::ReadFailure&) {
    return std::nullopt;
  }
  r.info_start = pos;
  r.info_end = pos + r.prelude.n_info;
  if (r.prelude.n_info == 0 || r.info_end + r.prelude.n_cell > b.size()) return std::nullopt;
  auto name = qstr_at(b, &pos, coding);
  if (!name) return std::nullopt;
  r.name = *name;
  if (with_file) {
    auto file = qstr_at(b, &pos, coding);
    if (!file) return std::nullopt;
    r.source_file = *file;
  } else {
    for (std::uint32_t i = 0; i < r.prelude.n_pos_args + r.prelude.n_kwonly_args; ++i) {
      auto a = qstr_at(b, &pos, coding);
      if (!a) return std::nullopt;
      r.arg_names.push_back(*a);
    }
  }
  if (pos > r.info_end) return std::nullopt;
  r.lines_start = pos;
  r.code_start = r.info_end + r.prelude.n_cell;
  return r;
}

std::uint32_t source_line(Bytes bytes, const CodeInfo& info, std::uint64_t bc_offset) {
  // The table's steps are cumulative: the line of the last step whose offset is not past
  // `bc_offset`, as MicroPython subtracts the steps one by one until the next does not fit.
  std::uint32_t line = 1;
  for (const mpy::LineEntry& e :
       mpy::detail::decode_lines(bytes, info.lines_start, info.info_end)) {
    if (e.bc_offset > bc_offset) break;
    line = e.line;
  }
  return line;
}

}  // namespace mpheap::heap
