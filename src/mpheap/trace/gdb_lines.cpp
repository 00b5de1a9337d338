// Line recognisers for gdb output: frames, stops, `$N = value` and source echo lines.
#include "mpheap/trace/gdb_lines.h"

#include <array>
#include <bit>
#include <charconv>
#include <cstring>

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

// The value of a hex digit, 0xff for other characters.
constexpr auto kHexDigit = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(0xff);
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<std::uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<std::uint8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<std::uint8_t>(c - 'A' + 10);
  return t;
}();

// The value of 8 hex digits at `p` (SWAR), false if any of them is not a hex digit.
bool hex8(const char* p, std::uint64_t& out) {
  if constexpr (std::endian::native != std::endian::little) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      unsigned d = kHexDigit[static_cast<unsigned char>(p[i])];
      if (d > 15) return false;
      v = (v << 4) | d;
    }
    out = v;
    return true;
  } else {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
    std::uint64_t x = 0;
    std::memcpy(&x, p, 8);  // the first digit in the lowest byte
    if ((x & kHigh) != 0) return false;
    // For bytes below 0x80: the high bit of each byte set where the byte is >= n.
    auto at_least = [x](std::uint64_t n) { return ((x | kHigh) - n * kOnes) & kHigh; };
    std::uint64_t digit = at_least('0') & ~at_least('9' + 1);
    std::uint64_t upper = at_least('A') & ~at_least('F' + 1);
    std::uint64_t lower = at_least('a') & ~at_least('f' + 1);
    if ((digit | upper | lower) != kHigh) return false;
    // '0'-'9' -> low nibble; 'a'-'f' and 'A'-'F' (bit 6 set) -> low nibble + 9.
    x = (x & 0x0f0f0f0f0f0f0f0fULL) + 9 * ((x >> 6) & kOnes);
    x = ((x << 4) + (x >> 8)) & 0x00ff00ff00ff00ffULL;
    x = ((x << 8) + (x >> 16)) & 0x0000ffff0000ffffULL;
    out = ((x << 16) + (x >> 32)) & 0xffffffffULL;
    return true;
  }
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

std::string_view trim(std::string_view s) {
  s = skip_spaces(s);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// `FILE:LINE` with a non-empty file and only digits after the last ':'.
bool looks_like_python_location(std::string_view s) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= s.size()) return false;
  for (std::size_t i = colon + 1; i < s.size(); ++i)
    if (!is_digit(s[i])) return false;
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

std::optional<FrameText> parse_python_frame_text(std::string_view text) {
  text = skip_spaces(text);
  if (!text.starts_with(kPythonFrameMarker)) return std::nullopt;
  std::string_view rest = text.substr(kPythonFrameMarker.size());
  if (!rest.empty() && rest[0] != ' ' && rest[0] != '\t') return std::nullopt;  // "[py]x"
  // " at " is looked for before trimming: "[py] at main.py:1" has a location and no function.
  const std::string_view trimmed = trim(rest);
  FrameText f;
  f.python = true;
  f.function = trimmed.empty() ? std::string_view("??") : trimmed;
  if (std::size_t at = rest.find(" at "); at != std::string_view::npos) {
    std::string_view function = trim(rest.substr(0, at));
    std::string_view location = trim(rest.substr(at + 4));
    if (looks_like_python_location(location)) {
      f.function = function.empty() ? std::string_view("??") : function;
      f.location = location;
    }
  }
  return f;
}

std::optional<FrameText> parse_frame_text(std::string_view text) {
  FrameText f;
  text = skip_spaces(text);
  if (text.starts_with(kPythonFrameMarker))
    if (auto python = parse_python_frame_text(text)) return python;
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
  // One pass over `#N  0xADDR in `: this runs for nearly every line of a backtrace log.
  const char* p = line.data();
  const char* const end = p + line.size();
  if (p == end || *p != '#') return std::nullopt;
  ++p;
  FrameAddress out;
  std::uint64_t index = 0;
  const char* digits = p;
  while (p != end && is_digit(*p)) {
    index = index * 10 + static_cast<std::uint64_t>(*p - '0');
    if (index > 0xffffffffULL) return std::nullopt;
    ++p;
  }
  if (p == digits) return std::nullopt;
  out.index = static_cast<std::uint32_t>(index);
  while (p != end && (*p == ' ' || *p == '\t')) ++p;
  if (end - p < 2 || p[0] != '0' || p[1] != 'x') return std::nullopt;
  const char* address = p;
  p += 2;
  std::uint64_t value = 0;
  unsigned bad = 0;
  // gdb pads addresses to the pointer's width: 16 or 8 digits, converted 8 at a time.
  std::uint64_t high = 0, low = 0;
  if (end - p > 16 && p[16] == ' ' && hex8(p, high) && hex8(p + 8, low)) {
    value = (high << 32) | low;
    p += 16;
  } else if (end - p > 8 && p[8] == ' ' && hex8(p, low)) {
    value = low;
    p += 8;
  }
  for (; p != end && *p != ' '; ++p) {
    unsigned d = kHexDigit[static_cast<unsigned char>(*p)];
    bad |= d;
    value = (value << 4) | (d & 15u);
  }
  if (end - p < 4 || p[1] != 'i' || p[2] != 'n' || p[3] != ' ') return std::nullopt;
  out.address = std::string_view(address, static_cast<std::size_t>(p - address));
  // Like StackTable's address values: "0x" and 1-16 hex digits, else 0.
  out.value = bad < 16 && out.address.size() <= 18 ? value : 0;
  return out;
}

std::optional<StopPrefix> split_stop_line(std::string_view line) {
  if (line.starts_with("Thread ")) {
    std::size_t hit = line.find(" hit ");
    if (hit == std::string_view::npos) return std::nullopt;
    line.remove_prefix(hit + 5);
  }
  for (std::string_view prefix :
       {std::string_view("Breakpoint "), std::string_view("Temporary breakpoint "),
        std::string_view("Hardware assisted breakpoint ")}) {
    if (!line.starts_with(prefix)) continue;
    StopPrefix out;
    auto rest = take_number(line.substr(prefix.size()), out.breakpoint);
    if (!rest || !rest->starts_with(", ")) return std::nullopt;
    out.frame_text = rest->substr(2);
    return out;
  }
  return std::nullopt;
}

std::optional<StopLine> parse_stop_line(std::string_view line) {
  auto prefix = split_stop_line(line);
  if (!prefix) return std::nullopt;
  auto frame = parse_frame_text(prefix->frame_text);
  if (!frame) return std::nullopt;
  return StopLine{prefix->breakpoint, *frame};
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
  // The native tracer's Python frames are one line each, whatever they end with.
  if (line[0] == '#') {
    std::size_t i = 1;
    while (i < line.size() && is_digit(line[i])) ++i;
    if (skip_spaces(line.substr(i)).starts_with(kPythonFrameMarker)) return true;
  }
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
