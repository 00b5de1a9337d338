#include "mpheap/io/registers.h"

#include <fmt/format.h>

#include <array>
#include <charconv>

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

Expected<std::vector<Register>> registers_from_g_reply(std::string_view hex,
                                                       std::string_view machine,
                                                       std::uint32_t word_size,
                                                       bool little_endian) {
  std::vector<std::string> names;
  std::uint32_t size = word_size;
  if (machine == "ARM") {
    size = 4;
    for (int i = 0; i <= 12; ++i) names.push_back(fmt::format("r{}", i));
    names.insert(names.end(), {"sp", "lr", "pc"});
  } else if (machine == "x86-64") {
    size = 8;
    names = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"};
    for (int i = 8; i <= 15; ++i) names.push_back(fmt::format("r{}", i));
    names.emplace_back("rip");
  } else if (machine == "AArch64") {
    size = 8;
    for (int i = 0; i <= 30; ++i) names.push_back(fmt::format("x{}", i));
    names.insert(names.end(), {"sp", "pc"});
  } else if (machine == "RISC-V" && (word_size == 4 || word_size == 8)) {
    names = {"zero", "ra", "sp", "gp", "tp",  "t0",  "t1", "t2", "s0", "s1", "a0",
             "a1",   "a2", "a3", "a4", "a5",  "a6",  "a7", "s2", "s3", "s4", "s5",
             "s6",   "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6", "pc"};
  } else {
    return Error{"registers", 0, 0,
                 fmt::format("the register order of a `g` reply is not known for machine '{}'",
                             machine.empty() ? "unknown" : machine)};
  }
  std::vector<Register> out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::size_t at = i * size * 2;
    if (at + size * 2 > hex.size()) break;
    std::string_view digits = hex.substr(at, size * 2);
    if (digits.find('x') != std::string_view::npos) continue;  // not available
    std::uint64_t value = 0;
    bool ok = true;
    for (std::uint32_t b = 0; b < size && ok; ++b) {
      std::uint64_t byte = 0;
      auto [p, ec] = std::from_chars(digits.data() + 2 * b, digits.data() + 2 * b + 2, byte, 16);
      ok = ec == std::errc() && p == digits.data() + 2 * b + 2;
      const std::uint32_t shift = little_endian ? 8 * b : 8 * (size - 1 - b);
      value |= byte << shift;
    }
    if (!ok)
      return Error{"registers", 0, at,
                   fmt::format("expected hex digits of register {}, found '{}'", names[i], digits)};
    out.push_back({names[i], value});
  }
  if (out.empty())
    return Error{"registers", 0, 0,
                 fmt::format("the `g` reply of {} characters holds no register", hex.size())};
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
