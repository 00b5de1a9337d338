// Python repr() rules for the constant kinds a .mpy file holds.
#include "mpheap/mpy/pyrepr.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <iterator>

namespace mpheap::mpy {
namespace {

// Shortest digits and decimal exponent: v = 0.DIGITS * 10^decpt.
void shortest(double v, std::string& digits, int& decpt) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view s(buf, static_cast<std::size_t>(r.ptr - buf));
  auto e = s.find('e');
  std::string_view mant = s.substr(0, e);
  int exp = std::atoi(std::string(s.substr(e + 1)).c_str());
  digits.clear();
  for (char c : mant)
    if (c >= '0' && c <= '9') digits += c;
  decpt = exp + 1;
}

// Python's float formatting with format code 'r'; `dot_zero` adds ".0" to integral values
// (repr(float) does, the parts of repr(complex) do not).
std::string float_text(double v, bool dot_zero) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  std::string sign = std::signbit(v) ? "-" : "";
  v = std::fabs(v);
  if (v == 0) return sign + (dot_zero ? "0.0" : "0");
  std::string d;
  int decpt = 0;
  shortest(v, d, decpt);
  if (decpt <= -4 || decpt > 16) {
    std::string m = d.substr(0, 1);
    if (d.size() > 1) {
      m += '.';
      m += d.substr(1);
    }
    int exp = decpt - 1;
    return sign + m + fmt::format("e{}{:02d}", exp < 0 ? '-' : '+', std::abs(exp));
  }
  std::string out;
  if (decpt <= 0) {
    out = "0." + std::string(static_cast<std::size_t>(-decpt), '0') + d;
  } else if (static_cast<std::size_t>(decpt) >= d.size()) {
    out = d + std::string(static_cast<std::size_t>(decpt) - d.size(), '0');
    if (dot_zero) out += ".0";
  } else {
    out = d.substr(0, static_cast<std::size_t>(decpt)) + "." +
          d.substr(static_cast<std::size_t>(decpt));
  }
  return sign + out;
}

char pick_quote(std::string_view s) {
  bool single = s.find('\'') != std::string_view::npos;
  bool dbl = s.find('"') != std::string_view::npos;
  return single && !dbl ? '"' : '\'';
}

// Code points Python's str.isprintable() rejects, for those a .mpy string may plausibly hold.
bool printable(std::uint32_t cp) {
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0xad) return false;
  if ((cp >= 0x2000 && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202f) || cp == 0xfeff ||
      cp == 0x3000 || cp == 0x205f || (cp >= 0x2060 && cp <= 0x206f) || cp == 0x1680)
    return false;
  if (cp >= 0xd800 && cp <= 0xdfff) return false;
  if (cp >= 0xe000 && cp <= 0xf8ff) return false;  // private use
  return true;
}

std::string parse_int_text(const std::string& t) {
  std::string_view s(t);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  bool neg = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    neg = s.front() == '-';
    s.remove_prefix(1);
  }
  while (s.size() > 1 && s.front() == '0') s.remove_prefix(1);
  if (s.empty()) return t;
  for (char c : s)
    if (c < '0' || c > '9') return t;
  if (s == "0") return "0";
  std::string out = neg ? "-" : "";
  out += s;
  return out;
}

std::string complex_repr(const std::string& t) {
  std::string s = t;
  if (!s.empty() && s.front() == '(' && s.back() == ')') s = s.substr(1, s.size() - 2);
  if (s.empty() || (s.back() != 'j' && s.back() != 'J')) return t;
  s.pop_back();
  double re = 0, im = 0;
  std::size_t split = std::string::npos;
  for (std::size_t i = 1; i < s.size(); ++i)
    if ((s[i] == '+' || s[i] == '-') && s[i - 1] != 'e' && s[i - 1] != 'E') split = i;
  if (split == std::string::npos) {
    im = std::strtod(s.c_str(), nullptr);
  } else {
    re = std::strtod(s.substr(0, split).c_str(), nullptr);
    im = std::strtod(s.substr(split).c_str(), nullptr);
  }
  if (re == 0 && !std::signbit(re)) return float_text(im, false) + "j";
  std::string ims = float_text(im, false);
  if (ims[0] != '-') ims.insert(ims.begin(), '+');
  std::string out = "(";
  out += float_text(re, false);
  out += ims;
  out += "j)";
  return out;
}

}  // namespace

std::string py_float_repr(double v) {
  return float_text(v, true);
}

void append_py_str_repr(std::string& out, std::string_view s) {
  char q = pick_quote(s);
  out += q;
  for (std::size_t i = 0; i < s.size();) {
    // Runs of printable ASCII (most names and strings) are copied as they are.
    std::size_t plain = i;
    while (plain < s.size() && s[plain] >= 0x20 && s[plain] < 0x7f && s[plain] != '\\' &&
           s[plain] != q)
      ++plain;
    if (plain > i) {
      out.append(s.data() + i, plain - i);
      i = plain;
      continue;
    }
    auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = c;
    std::size_t n = 1;
    if (c >= 0x80) {
      n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
      bool ok = n != 0 && i + n <= s.size();
      if (ok) {
        cp = c & (0x7fu >> n);
        for (std::size_t k = 1; k < n; ++k) {
          auto cc = static_cast<unsigned char>(s[i + k]);
          if ((cc & 0xc0u) != 0x80u) ok = false;
          cp = (cp << 6) | (cc & 0x3fu);
        }
      }
      if (!ok) {
        fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
        ++i;
        continue;
      }
    }
    if (cp == '\\' || cp == static_cast<std::uint32_t>(q)) {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (!printable(cp)) {
      auto it = std::back_inserter(out);
      if (cp < 0x100)
        fmt::format_to(it, "\\x{:02x}", cp);
      else if (cp < 0x10000)
        fmt::format_to(it, "\\u{:04x}", cp);
      else
        fmt::format_to(it, "\\U{:08x}", cp);
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  out += q;
}

std::string py_str_repr(std::string_view s) {
  std::string out;
  append_py_str_repr(out, s);
  return out;
}

std::string py_bytes_repr(std::string_view s) {
  char q = pick_quote(s);
  std::string out = "b";
  out += q;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\\' || c == static_cast<unsigned char>(q)) {
      out += '\\';
      out += ch;
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += ch;
    }
  }
  out += q;
  return out;
}

void append_py_repr(std::string& out, const Constant& c) {
  using K = Constant::Kind;
  switch (c.kind) {
    case K::FunTable:
      out += "mp_fun_table";
      return;
    case K::None:
      out += "None";
      return;
    case K::False:
      out += "False";
      return;
    case K::True:
      out += "True";
      return;
    case K::Ellipsis:
      out += "Ellipsis";
      return;
    case K::Str:
    case K::Qstr:
      append_py_str_repr(out, c.text);
      return;
    case K::Bytes:
      out += py_bytes_repr(c.text);
      return;
    case K::Int:
      out += parse_int_text(c.text);
      return;
    case K::Float:
      out += py_float_repr(std::strtod(c.text.c_str(), nullptr));
      return;
    case K::Complex:
      out += complex_repr(c.text);
      return;
    case K::Tuple:
      out += '(';
      for (std::size_t i = 0; i < c.items.size(); ++i) {
        if (i) out += ", ";
        append_py_repr(out, c.items[i]);
      }
      if (c.items.size() == 1) out += ',';
      out += ')';
      return;
  }
  out += '?';
}

std::string py_repr(const Constant& c) {
  std::string out;
  append_py_repr(out, c);
  return out;
}

}  // namespace mpheap::mpy
