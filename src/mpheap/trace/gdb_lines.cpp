// Line recognisers for gdb output: frames, stops, `$N = value` and source echo lines.
#include "mpheap/trace/gdb_lines.h"

#include <charconv>

namespace mpheap::trace::gdb {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string_view skip_spaces(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

// Reads leading decimal digits into `out`; returns the rest or nullopt when none.
std::optional<std::string_view> take_number(std::string_view s, std::uint32_t& out) {
  std::size_t i = 0;
  std::uint64_t v = 0;
  while (i < s.size() && is_digit(s[i])) {
    v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
    if (v > 0xffffffffULL) return std::nullopt;
    ++i;
  }
  if (i == 0) return std::nullopt;
  out = static_cast<std::uint32_t>(v);
  return s.substr(i);
}

// `file:123` with no quote, parenthesis or space in the file part.
bool looks_like_file_line(std::string_view s) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= s.size()) return false;
  for (std::size_t i = colon + 1; i < s.size(); ++i)
    if (!is_digit(s[i])) return false;
  for (std::size_t i = 0; i < colon; ++i) {
    char c = s[i];
    if (c == '"' || c == '(' || c == ')' || c == '\'' || c == ' ') return false;
  }
  return true;
}

bool looks_like_library(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c == '"' || c == '(' || c == ')' || c == '\'') return false;
  return true;
}

}  // namespace

std::optional<std::uint64_t> parse_integer(std::string_view text) {
  text = skip_spaces(text);
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
  if (ec != std::errc() || ptr == text.data()) return std::nullopt;
  std::string_view rest(ptr, static_cast<std::size_t>(text.data() + text.size() - ptr));
  if (!rest.empty() && rest[0] != ' ') return std::nullopt;
  return v;
}

std::optional<FrameText> parse_frame_text(std::string_view text) {
  FrameText f;
  text = skip_spaces(text);
  if (text.starts_with("0x")) {
    std::size_t sp = text.find(' ');
    if (sp == std::string_view::npos) return std::nullopt;
    f.address = text.substr(0, sp);
    text = text.substr(sp);
    if (!text.starts_with(" in ")) return std::nullopt;
    text.remove_prefix(4);
  }
  std::size_t paren = text.find(" (");
  std::size_t name_end = paren;
  if (paren == std::string_view::npos) {
    // No argument list: "func at file:line" or just "func".
    name_end = text.find(' ');
    if (name_end == std::string_view::npos) name_end = text.size();
  }
  f.function = text.substr(0, name_end);
  if (f.function.empty()) return std::nullopt;
  std::string_view rest = text.substr(name_end);
  // The location is what follows the last " at " (a file:line has no spaces, so that is the
  // last word), else what follows the last " from " (a library).
  std::size_t args_end = rest.size();
  std::size_t last_space = rest.size();
  while (last_space > 0 && rest[last_space - 1] != ' ') --last_space;
  if (last_space >= 4 && rest.substr(last_space - 4, 4) == " at " &&
      looks_like_file_line(rest.substr(last_space))) {
    f.location = rest.substr(last_space);
    args_end = last_space - 4;
  } else if (std::size_t from = rest.rfind(" from "); from != std::string_view::npos) {
    std::string_view loc = rest.substr(from + 6);
    if (looks_like_library(loc)) {
      f.location = loc;
      args_end = from;
    }
  }
  std::string_view args = rest.substr(0, args_end);
  if (args.starts_with(" (")) {
    args.remove_prefix(2);
    if (args.ends_with(')')) args.remove_suffix(1);
    f.args = args;
  }
  return f;
}

std::optional<FrameLine> parse_frame_line(std::string_view line) {
  if (line.empty() || line[0] != '#') return std::nullopt;
  FrameLine out;
  auto rest = take_number(line.substr(1), out.index);
  if (!rest || rest->empty() || (*rest)[0] != ' ') return std::nullopt;
  auto frame = parse_frame_text(*rest);
  if (!frame) return std::nullopt;
  out.frame = *frame;
  return out;
}

std::optional<FrameAddress> frame_line_address(std::string_view line) {
  if (line.empty() || line[0] != '#') return std::nullopt;
  FrameAddress out;
  auto rest = take_number(line.substr(1), out.index);
  if (!rest) return std::nullopt;
  std::string_view t = skip_spaces(*rest);
  if (!t.starts_with("0x")) return std::nullopt;
  std::size_t sp = t.find(' ');
  if (sp == std::string_view::npos || t.substr(sp, 4) != " in ") return std::nullopt;
  out.address = t.substr(0, sp);
  return out;
}

std::optional<StopLine> parse_stop_line(std::string_view line) {
  if (line.starts_with("Thread ")) {
    std::size_t hit = line.find(" hit ");
    if (hit == std::string_view::npos) return std::nullopt;
    line.remove_prefix(hit + 5);
  }
  for (std::string_view prefix :
       {std::string_view("Breakpoint "), std::string_view("Temporary breakpoint "),
        std::string_view("Hardware assisted breakpoint ")}) {
    if (!line.starts_with(prefix)) continue;
    StopLine out;
    auto rest = take_number(line.substr(prefix.size()), out.breakpoint);
    if (!rest || !rest->starts_with(", ")) return std::nullopt;
    auto frame = parse_frame_text(rest->substr(2));
    if (!frame) return std::nullopt;
    out.frame = *frame;
    return out;
  }
  return std::nullopt;
}

std::optional<ValueLine> parse_value_line(std::string_view line) {
  if (line.size() < 5 || line[0] != '$') return std::nullopt;
  std::uint32_t n = 0;
  auto rest = take_number(line.substr(1), n);
  if (!rest || !rest->starts_with(" = ")) return std::nullopt;
  return ValueLine{rest->substr(3)};
}

bool is_source_line(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && is_digit(line[i])) ++i;
  return i > 0 && i < line.size() && line[i] == '\t';
}

bool frame_line_looks_complete(std::string_view line) {
  if (line.empty()) return true;
  char last = line.back();
  if (last == ')' || is_digit(last)) return true;
  // "from /lib/libc.so.6" and locations without a line number end otherwise.
  return line.rfind(" from ") != std::string_view::npos &&
         line.find('(') != std::string_view::npos && line.find(')') != std::string_view::npos;
}

std::optional<std::uint64_t> argument_integer(std::string_view args, int n) {
  int index = 0;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= args.size(); ++i) {
    char c = i < args.size() ? args[i] : ',';
    if (c == '(' || c == '{' || c == '[' || c == '<') ++depth;
    if ((c == ')' || c == '}' || c == ']' || c == '>') && depth > 0) --depth;
    if (c != ',' || depth != 0) continue;
    if (index == n) {
      std::string_view arg = skip_spaces(args.substr(start, i - start));
      // The value is after the last '=' ("x=x@entry=3" -> "3").
      std::size_t eq = arg.rfind('=');
      if (eq == std::string_view::npos) return std::nullopt;
      return parse_integer(arg.substr(eq + 1));
    }
    ++index;
    start = i + 1;
  }
  return std::nullopt;
}

}  // namespace mpheap::trace::gdb
