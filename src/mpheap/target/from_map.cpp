// Readers for GNU ld map files, `nm -S` output and ROM qstr lists.
#include "mpheap/target/from_map.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>

#include "mpheap/target/qstr_hash.h"

namespace mpheap::target {
namespace {

// Splits text into lines (without "\n" / "\r\n"), calling f(line, number) for each.
template <typename F>
void for_each_line(std::string_view text, F&& f) {
  std::uint64_t number = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!f(line, ++number)) return;
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Next whitespace-separated token; advances `s`.
std::string_view next_token(std::string_view& s) {
  s = trim(s);
  std::size_t end = 0;
  while (end < s.size() && s[end] != ' ' && s[end] != '\t') ++end;
  std::string_view tok = s.substr(0, end);
  s.remove_prefix(end);
  return tok;
}

std::optional<std::uint64_t> parse_hex(std::string_view s) {
  if (s.starts_with("0x") || s.starts_with("0X")) s.remove_prefix(2);
  if (s.empty() || s.size() > 16) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::uint64_t> parse_dec(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

char kind_for_section(std::string_view section) {
  if (section.starts_with(".text") || section.starts_with(".isr_vector")) return 'T';
  if (section.starts_with(".rodata") || section.starts_with(".data.rel.ro")) return 'R';
  if (section.starts_with(".data") || section.starts_with(".sdata")) return 'D';
  if (section.starts_with(".bss") || section.starts_with(".sbss") || section == "COMMON")
    return 'B';
  return '?';
}

RegionKind kind_for_memory(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.find("RAM") != std::string::npos) return RegionKind::ram;
  if (upper.find("ROM") != std::string::npos || upper.find("FLASH") != std::string::npos)
    return RegionKind::flash;
  return RegionKind::other;
}

bool is_symbol_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '$'))
      return false;
  return !std::isdigit(static_cast<unsigned char>(s[0])) && s != ".";
}

// Python-style escapes as the fixtures and gdb write them: \\ \n \r \t \' \" \xNN \0.
std::optional<std::string> unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i >= s.size()) return std::nullopt;
    switch (s[i]) {
      case '\\':
        out.push_back('\\');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case '\'':
        out.push_back('\'');
        break;
      case '"':
        out.push_back('"');
        break;
      case '0':
        out.push_back('\0');
        break;
      case 'x': {
        if (i + 2 >= s.size()) return std::nullopt;
        auto v = parse_hex(s.substr(i + 1, 2));
        if (!v) return std::nullopt;
        out.push_back(static_cast<char>(*v));
        i += 2;
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return out;
}

// 'text' or "text" as Python's repr() writes it: unquote and unescape; else unescape as is.
std::optional<std::string> decode_string(std::string_view s) {
  if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front())
    return unescape(s.substr(1, s.size() - 2));
  return unescape(s);
}

// C string literal pieces of a QDEF line: "\x7a\x07" "__dir__" -> concatenated bytes.
std::optional<std::string> c_literals(std::string_view s) {
  std::string out;
  for (;;) {
    std::size_t q = s.find('"');
    if (q == std::string_view::npos) return out;
    std::size_t end = q + 1;
    while (end < s.size() && s[end] != '"') end += s[end] == '\\' ? 2 : 1;
    if (end >= s.size()) return std::nullopt;
    std::string_view body = s.substr(q + 1, end - q - 1);
    std::string piece;
    for (std::size_t i = 0; i < body.size(); ++i) {
      if (body[i] != '\\') {
        piece.push_back(body[i]);
        continue;
      }
      if (++i >= body.size()) return std::nullopt;
      char c = body[i];
      if (c == 'x') {
        std::size_t j = i + 1;
        while (j < body.size() && j < i + 3 && std::isxdigit(static_cast<unsigned char>(body[j])))
          ++j;
        auto v = parse_hex(body.substr(i + 1, j - i - 1));
        if (!v) return std::nullopt;
        piece.push_back(static_cast<char>(*v));
        i = j - 1;
      } else if (c >= '0' && c <= '7') {
        std::size_t j = i;
        unsigned v = 0;
        while (j < body.size() && j < i + 3 && body[j] >= '0' && body[j] <= '7')
          v = v * 8 + unsigned(body[j++] - '0');
        piece.push_back(static_cast<char>(v));
        i = j - 1;
      } else {
        auto u = unescape(std::string("\\") + c);
        if (!u) return std::nullopt;
        piece += *u;
      }
    }
    out += piece;
    s.remove_prefix(end + 1);
  }
}

}  // namespace

Expected<MapContents> parse_gnu_ld_map(std::string_view text, const std::string& name) {
  MapContents out;
  enum class Part { preamble, memory, script } part = Part::preamble;
  std::string output_section;
  std::string input_section;  // name of the current input section
  std::uint64_t input_address = 0, input_size = 0;
  bool pending_output = false, pending_input = false;
  bool saw_script = false;
  std::optional<Error> error;

  for_each_line(text, [&](std::string_view line, std::uint64_t number) {
    if (line.starts_with("Memory Configuration")) {
      part = Part::memory;
      return true;
    }
    if (line.starts_with("Linker script and memory map")) {
      part = Part::script;
      saw_script = true;
      return true;
    }
    if (part == Part::memory) {
      std::string_view rest = line;
      std::string_view region = next_token(rest);
      std::string_view origin = next_token(rest);
      std::string_view length = next_token(rest);
      if (region.empty() || region == "Name" || region == "*default*") return true;
      auto o = parse_hex(origin);
      auto l = parse_hex(length);
      if (!o || !l) {
        error = Error{name, number, 0,
                      fmt::format("expected 'NAME 0xORIGIN 0xLENGTH' in the Memory Configuration "
                                  "table, found '{}'",
                                  trim(line).substr(0, 80))};
        return false;
      }
      out.regions.push_back(
          MemoryRegion{std::string(region), kind_for_memory(region), *o, *o + *l});
      if (origin.size() > 10) out.address_digits = 16;
      return true;
    }
    if (part != Part::script || line.empty()) return true;

    // An output section: ".bss  0x20000010  0x232c" (maybe with the numbers on the next line).
    if (line[0] == '.') {
      std::string_view rest = line;
      output_section = std::string(next_token(rest));
      auto a = parse_hex(next_token(rest));
      auto s = parse_hex(next_token(rest));
      pending_output = !a;
      if (a && s && *s > 0) {
        RegionKind k = output_section == ".data"  ? RegionKind::data
                       : output_section == ".bss" ? RegionKind::bss
                                                  : RegionKind::other;
        if (k != RegionKind::other)
          out.regions.push_back(MemoryRegion{output_section, k, *a, *a + *s});
      }
      return true;
    }
    if (pending_output) {
      pending_output = false;
      std::string_view rest = line;
      auto a = parse_hex(next_token(rest));
      auto s = parse_hex(next_token(rest));
      if (a && s && *s > 0 && (output_section == ".data" || output_section == ".bss")) {
        out.regions.push_back(MemoryRegion{
            output_section, output_section == ".data" ? RegionKind::data : RegionKind::bss, *a,
            *a + *s});
      }
      return true;
    }
    // An input section: " .bss.mp_state_ctx  0x20000010  0x2a4 file.o" or the name alone.
    if (line.size() > 1 && line[0] == ' ' &&
        (line[1] == '.' || line.substr(1).starts_with("COMMON"))) {
      std::string_view rest = line;
      input_section = std::string(next_token(rest));
      auto a = parse_hex(next_token(rest));
      auto s = parse_hex(next_token(rest));
      pending_input = !a;
      if (a && s) {
        input_address = *a;
        input_size = *s;
      }
      return true;
    }
    std::string_view rest = line;
    std::string_view first = next_token(rest);
    auto address = parse_hex(first);
    if (!first.starts_with("0x") || !address) return true;
    if (first.size() > 10) out.address_digits = 16;
    std::string_view second = next_token(rest);
    if (pending_input) {
      pending_input = false;
      if (auto s = parse_hex(second)) {
        input_address = *address;
        input_size = *s;
        return true;
      }
    }
    std::string_view tail = trim(rest);
    if (tail.starts_with("= ") || tail == "=") {
      // "0x20000010   _sbss = ." : a symbol the linker script assigns.
      if (is_symbol_name(second))
        out.symbols.push_back(Symbol{std::string(second), *address, 0, 'A', output_section});
      return true;
    }
    if (second.starts_with("PROVIDE")) {
      // "0x... PROVIDE (__executable_start = SEGMENT_START (...))"
      std::string_view inner = tail.starts_with("(") ? tail.substr(1) : tail;
      std::string_view sym = next_token(inner);
      if (is_symbol_name(sym))
        out.symbols.push_back(Symbol{std::string(sym), *address, 0, 'A', output_section});
      return true;
    }
    if (!tail.empty() || !is_symbol_name(second)) return true;
    Symbol sym{std::string(second), *address, 0, kind_for_section(output_section), output_section};
    // -ffunction-sections / -fdata-sections: ".bss.NAME" holds exactly NAME.
    if (input_address == *address && input_section.size() > sym.name.size() &&
        input_section.ends_with(sym.name) &&
        input_section[input_section.size() - sym.name.size() - 1] == '.')
      sym.size = input_size;
    out.symbols.push_back(std::move(sym));
    return true;
  });
  if (error) return *error;
  if (!saw_script) {
    return Error{name, 0, 0,
                 "expected a GNU ld map file (a 'Linker script and memory map' part), found none: "
                 "a map of another linker? Pass `nm -S --defined-only` output with --nm instead"};
  }
  if (out.symbols.empty()) return Error{name, 0, 0, "the map file lists no symbols"};
  for (const Symbol& s : out.symbols)
    if (s.address > 0xffffffffULL) out.address_digits = 16;
  return out;
}

Expected<NmContents> parse_nm(std::string_view text, const std::string& name) {
  NmContents contents;
  std::vector<Symbol>& out = contents.symbols;
  std::optional<Error> error;
  for_each_line(text, [&](std::string_view line, std::uint64_t number) {
    std::string_view t = trim(line);
    if (t.empty() || t.back() == ':') return true;  // blank lines, "file.o:" headers
    std::string_view rest = t;
    std::string_view a = next_token(rest);
    std::string_view b = next_token(rest);
    std::string_view c = next_token(rest);
    std::string_view d = trim(rest);
    auto address = parse_hex(a);
    if (a.size() > 8) contents.address_digits = 16;
    Symbol s;
    if (address && b.size() == 1 && !c.empty() && d.empty()) {
      s = Symbol{std::string(c), *address, 0, b[0], ""};
    } else if (auto size = parse_hex(b); address && size && c.size() == 1 && !d.empty()) {
      s = Symbol{std::string(d), *address, *size, c[0], ""};
    } else {
      error = Error{name, number, 0,
                    fmt::format("expected `nm -S` output 'ADDRESS [SIZE] TYPE NAME', found '{}'",
                                t.substr(0, 80))};
      return false;
    }
    if (s.kind == 'U' || s.kind == 'w' || s.kind == 'v') return true;  // undefined / weak refs
    out.push_back(std::move(s));
    return true;
  });
  if (error) return *error;
  if (out.empty()) return Error{name, 0, 0, "expected `nm -S` output, found no symbols"};
  return contents;
}

namespace {
Expected<std::vector<std::string>> parse_qstr_entries(std::string_view text,
                                                      const std::string& name) {
  std::vector<std::string> out;
  std::optional<Error> error;
  // qstrdefs.generated.h
  if (text.find("QDEF") != std::string_view::npos) {
    for_each_line(text, [&](std::string_view line, std::uint64_t number) {
      std::string_view t = trim(line);
      if (!t.starts_with("QDEF")) return true;
      std::size_t comma = t.find(',');
      if (comma == std::string_view::npos) return true;
      auto bytes = c_literals(t.substr(comma));
      if (!bytes) {
        error = Error{name, number, 0,
                      fmt::format("expected C string literals, found '{}'", t.substr(0, 80))};
        return false;
      }
      if (t.starts_with("QDEF(")) {
        // Old form: "\xHH\xHH" hash bytes then length bytes then the string, in one literal run.
        // The number of hash/length bytes is found from the stated length.
        std::string s = *bytes;
        bool found = false;
        for (std::size_t hb : {2u, 1u}) {
          for (std::size_t lb : {1u, 2u}) {
            if (s.size() < hb + lb) continue;
            std::size_t len =
                static_cast<unsigned char>(s[hb]) |
                (lb == 2 ? static_cast<std::size_t>(static_cast<unsigned char>(s[hb + 1])) << 8
                         : 0);
            if (len == s.size() - hb - lb) {
              out.push_back(s.substr(hb + lb));
              found = true;
              break;
            }
          }
          if (found) break;
        }
        if (!found) out.push_back(s);
      } else {
        out.push_back(*bytes);
      }
      return true;
    });
    if (error) return *error;
    if (out.empty()) return Error{name, 0, 0, "expected QDEF lines, found none"};
    return out;
  }
  // "index hash len string" columns, when the first data line looks like "0 0 0".
  bool columns = false;
  for_each_line(text, [&](std::string_view line, std::uint64_t) {
    if (line.starts_with("#")) return true;
    std::string_view rest = line;
    columns = next_token(rest) == "0" && parse_hex(next_token(rest)) && parse_dec(next_token(rest));
    return false;
  });
  bool seen_data = false;
  for_each_line(text, [&](std::string_view line, std::uint64_t number) {
    if (!columns) {
      // Bare strings: line N is qstr N-1. '#' lines before the first entry are comments.
      if (!seen_data && line.starts_with("#")) return true;
      seen_data = true;
      auto s = decode_string(line);
      if (!s) {
        error = Error{
            name, number, 0,
            fmt::format("expected a qstr with Python escapes, found '{}'", line.substr(0, 80))};
        return false;
      }
      out.push_back(std::move(*s));
      return true;
    }
    if (line.starts_with("#") || trim(line).empty()) return true;
    // "index hash len string": the string is everything after the third space.
    std::size_t p1 = line.find(' ');
    std::size_t p2 = p1 == std::string_view::npos ? p1 : line.find(' ', p1 + 1);
    std::size_t p3 = p2 == std::string_view::npos ? p2 : line.find(' ', p2 + 1);
    std::string_view idx = line.substr(0, p1);
    std::string_view hash = p1 == std::string_view::npos ? "" : line.substr(p1 + 1, p2 - p1 - 1);
    std::string_view len =
        p2 == std::string_view::npos
            ? ""
            : line.substr(p2 + 1,
                          p3 == std::string_view::npos ? std::string_view::npos : p3 - p2 - 1);
    std::string_view str = p3 == std::string_view::npos ? "" : line.substr(p3 + 1);
    auto i = parse_dec(idx);
    auto l = parse_dec(len);
    auto s = decode_string(str);
    if (!i || !l || !s || hash.empty()) {
      error =
          Error{name, number, 0,
                fmt::format("expected 'index hash len string', found '{}'", line.substr(0, 80))};
      return false;
    }
    if (*i != out.size()) {
      error =
          Error{name, number, 0, fmt::format("expected qstr index {}, found {}", out.size(), *i)};
      return false;
    }
    if (*l != s->size()) {
      error = Error{
          name, number, 0,
          fmt::format("the length column says {} but the string has {} bytes", *l, s->size())};
      return false;
    }
    // The hash column is hex or decimal; either must match MicroPython's hash of the string.
    if (*i > 0) {
      auto dec = parse_dec(hash);
      auto hex = parse_hex(hash);
      bool ok = false;
      for (std::uint32_t bytes : {2u, 1u}) {
        std::uint64_t h = qstr_hash(*s, bytes);
        if ((dec && *dec == h) || (hex && *hex == h)) ok = true;
      }
      if (!ok) {
        error = Error{name, number, 0,
                      fmt::format("the hash column '{}' is not MicroPython's hash of '{}' ({:#x})",
                                  hash, str.substr(0, 40), qstr_hash(*s, 2))};
        return false;
      }
    }
    out.push_back(std::move(*s));
    return true;
  });
  if (error) return *error;
  if (out.empty()) return Error{name, 0, 0, "expected a list of qstrs, found none"};
  return out;
}
}  // namespace

Expected<std::vector<std::string>> parse_qstr_list(std::string_view text, const std::string& name) {
  auto out = parse_qstr_entries(text, name);
  if (!out) return out;
  // qstr 0 is MP_QSTRnull, the empty string, in every MicroPython and CircuitPython version:
  // a list that starts otherwise is some other file (nm output, a map) given as --qstrs.
  if (out->empty()) return Error{name, 0, 0, "expected one qstr per line, found none"};
  if (!out->front().empty())
    return Error{name, 1, 0,
                 fmt::format("qstr 0 (MP_QSTRnull) should be the empty string, found '{}': "
                             "expected a ROM qstr list (one qstr per line in index order, "
                             "'index hash len string' columns, or qstrdefs.generated.h){}",
                             out->front().substr(0, 60),
                             out->front().find(' ') != std::string::npos
                                 ? "; this looks like nm or map output, which goes to --nm/--map"
                                 : "")};
  return out;
}

Expected<Target> read_map_target(std::string_view map_text, const std::string& map_name,
                                 std::string_view nm_text, const std::string& nm_name,
                                 std::string_view qstr_text, const std::string& qstr_name) {
  Target t;
  std::uint32_t digits = 8;
  std::vector<std::string> sources;
  if (!map_text.empty()) {
    auto map = parse_gnu_ld_map(map_text, map_name);
    if (!map) return map.error();
    t.symbols = std::move(map->symbols);
    t.regions = std::move(map->regions);
    digits = map->address_digits;
    sources.push_back("map");
  }
  if (!nm_text.empty()) {
    auto nm = parse_nm(nm_text, nm_name);
    if (!nm) return nm.error();
    // nm knows every symbol's size and type; keep map-only symbols (linker assignments) too.
    std::vector<Symbol>& syms = nm->symbols;
    std::map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < syms.size(); ++i) seen[syms[i].name] = i;
    for (Symbol& s : t.symbols) {
      auto it = seen.find(s.name);
      if (it == seen.end()) {
        syms.push_back(std::move(s));
      } else if (syms[it->second].section.empty()) {
        syms[it->second].section = s.section;
      }
    }
    t.symbols = std::move(syms);
    digits = std::max(digits, nm->address_digits);
    sources.push_back("nm");
  }
  if (!qstr_text.empty()) {
    auto q = parse_qstr_list(qstr_text, qstr_name);
    if (!q) return q.error();
    t.rom_qstrs = std::move(*q);
    t.provenance.qstrs = fmt::format("list file {}", qstr_name);
  }
  // Without program headers, the word size follows from how wide the tools print addresses.
  t.word_size = digits > 8 ? 8 : 4;
  t.block_size = 4 * t.word_size;
  t.provenance.symbols = fmt::format("{}", fmt::join(sources, " + "));
  t.provenance.layout = "not known yet: needs a RAM dump (layout heuristics)";
  if (auto ctx = std::find_if(t.symbols.begin(), t.symbols.end(),
                              [](const Symbol& s) { return s.name == "mp_state_ctx"; });
      ctx != t.symbols.end()) {
    t.mp_state_ctx = ctx->address;
    t.state.size = ctx->size;
  }
  // Type objects by their symbols (the Python name is the symbol's suffix: without the ELF's
  // sections, the name qstr inside the object cannot be read).
  for (const Symbol& s : t.symbols)
    if (s.name.starts_with("mp_type_") && s.name.size() > 8)
      t.types.push_back(TypeObject{s.address, s.name, s.name.substr(8)});
  t.finalize();
  if (!t.mp_state_ctx) {
    return Error{map_text.empty() ? nm_name : map_name, 0, 0,
                 "no symbol mp_state_ctx: not the map or symbols of a MicroPython firmware?"};
  }
  return t;
}

}  // namespace mpheap::target
