#include "mpheap/io/registers.h"

#include <fmt/format.h>

#include <array>

#include "mpheap/util/number.h"

namespace mpheap::io {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The next whitespace-separated field of `s`, removed from it.
std::string_view next_field(std::string_view& s) {
  s = trim(s);
  std::size_t end = s.find_first_of(" \t");
  std::string_view field = s.substr(0, end);
  s.remove_prefix(end == std::string_view::npos ? s.size() : end);
  return field;
}

bool is_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
          (c >= 'A' && c <= 'Z')))
      return false;
  return true;
}

}  // namespace

Expected<std::vector<Register>> parse_registers(std::string_view text, const std::string& source) {
  std::vector<Register> out;
  std::uint64_t line_no = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (line.empty() || line.starts_with("(gdb)")) continue;
    std::string_view rest = line;
    std::string_view name = next_field(rest);
    std::string_view value = next_field(rest);
    if (value.starts_with("{")) continue;  // a vector or composite register
    if (!is_name(name))
      return Error{source, line_no, 0,
                   fmt::format("expected a register name at the start of the line (as gdb's "
                               "`info registers` prints), found '{}'",
                               name.substr(0, 40))};
    auto v = parse_uint(value);
    if (!v)
      return Error{source, line_no, 0,
                   fmt::format("expected the value of register {} (0x... or decimal), found '{}'",
                               name, value.substr(0, 40))};
    out.push_back({std::string(name), *v});
  }
  if (out.empty())
    return Error{source, 0, 0, "no registers found: expected the output of gdb's `info registers`"};
  return out;
}

std::optional<std::uint64_t> stack_pointer(const std::vector<Register>& registers) {
  constexpr std::array<std::string_view, 4> kNames{"sp", "rsp", "esp", "a1"};
  for (std::string_view want : kNames)
    for (const Register& r : registers)
      if (r.name == want) return r.value;
  return std::nullopt;
}

}  // namespace mpheap::io
