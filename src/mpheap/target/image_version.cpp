// The MicroPython version of a firmware image: see image_version.h.
#include "mpheap/target/image_version.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace mpheap::target {
namespace {

// The stock banner: "MicroPython v<digit>..." up to the first NUL, CR or LF, and its address.
std::optional<std::pair<std::uint64_t, std::string>> stock_banner(const io::MemoryImage& flash) {
  constexpr std::string_view kTag = "MicroPython v";
  for (const io::MemoryRange& r : flash.ranges()) {
    std::string_view b(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size());
    for (std::size_t at = b.find(kTag); at != std::string_view::npos; at = b.find(kTag, at + 1)) {
      std::size_t end = at + kTag.size();
      while (end < b.size() && end - at < 160 && b[end] != '\0' && b[end] != '\r' && b[end] != '\n')
        ++end;
      // Only a version number counts: "MicroPython v1.9.2...", not a format string.
      if (at + kTag.size() < b.size() &&
          std::isdigit(static_cast<unsigned char>(b[at + kTag.size()])))
        return std::make_pair(r.address + at, std::string(b.substr(at, end - at)));
    }
  }
  return std::nullopt;
}

// A fork's banner: a whole string "<Name> MicroPython <version>" (no format directives).
std::string fork_banner(const io::MemoryImage& flash) {
  constexpr std::string_view kTag = " MicroPython ";
  for (const io::MemoryRange& r : flash.ranges()) {
    std::string_view b(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size());
    for (std::size_t at = b.find(kTag); at != std::string_view::npos; at = b.find(kTag, at + 1)) {
      std::size_t start = at;
      while (start > 0 && at - start < 64 && b[start - 1] != '\0' && b[start - 1] != '\n') --start;
      std::size_t end = at + kTag.size();
      while (end < b.size() && end - at < 160 && b[end] != '\0' && b[end] != '\r' && b[end] != '\n')
        ++end;
      std::string_view s = b.substr(start, end - start);
      const bool clean = std::all_of(
          s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '%' && c != '{'; });
      if (clean && end > at + kTag.size() && std::isalpha(static_cast<unsigned char>(s[0])))
        return std::string(s);
    }
  }
  return {};
}

std::optional<std::uint64_t> small_int(std::uint64_t v) {
  if ((v & 1) == 0) return std::nullopt;
  return v >> 1;
}

}  // namespace

std::optional<std::pair<int, int>> version_number(const std::string& text) {
  int major = 0, minor = 0;
  if (std::sscanf(text.c_str(), "MicroPython v%d.%d", &major, &minor) == 2 ||
      std::sscanf(text.c_str(), "%d.%d", &major, &minor) == 2)
    return std::make_pair(major, minor);
  return std::nullopt;
}

ImageVersion find_image_version(const io::MemoryImage& flash, std::uint32_t word_size,
                                bool little_endian, const std::vector<TypeObject>& types,
                                const std::vector<std::string>& rom_qstrs) {
  ImageVersion out;
  out.banner = fork_banner(flash);
  io::WordReader w{flash, word_size, little_endian};
  const std::uint64_t W = word_size;
  std::vector<std::uint64_t> tuple_types;
  for (const TypeObject& t : types)
    if (t.name == "tuple") tuple_types.push_back(t.address);
  auto is_tuple = [&](std::optional<std::uint64_t> base) {
    return base && std::find(tuple_types.begin(), tuple_types.end(), *base) != tuple_types.end();
  };
  auto micropython = std::find(rom_qstrs.begin(), rom_qstrs.end(), "micropython");
  if (micropython != rom_qstrs.end() && !tuple_types.empty()) {
    const auto q = static_cast<std::uint64_t>(micropython - rom_qstrs.begin());
    for (const std::uint64_t key : {(q << 3) | 2, (q << 2) | 2}) {
      for (const io::MemoryRange& r : flash.ranges()) {
        for (std::uint64_t a = (r.address + W - 1) / W * W + 2 * W; a + 2 * W <= r.end(); a += W) {
          if (w.at(a) != key) continue;
          // sys.implementation: {&tuple or &attrtuple, n, "micropython", &version, ...}.
          auto n = w.at(a - W), version = w.at(a + W);
          if (!is_tuple(w.at(a - 2 * W)) || !n || *n < 2 || *n > 8 || !version) continue;
          auto len = w.at(*version + W);
          if (!is_tuple(w.at(*version)) || !len || *len < 3 || *len > 5) continue;
          auto major = small_int(w.at(*version + 2 * W).value_or(0));
          auto minor = small_int(w.at(*version + 3 * W).value_or(0));
          auto micro = small_int(w.at(*version + 4 * W).value_or(0));
          if (!major || !minor || !micro || *major < 1 || *major > 9 || *minor > 99 || *micro > 99)
            continue;
          out.number = std::make_pair(static_cast<int>(*major), static_cast<int>(*minor));
          out.text = fmt::format("{}.{}.{}", *major, *minor, *micro);
          out.tuple_address = *version;
          out.source = fmt::format(
              "the ROM tuple ({}, {}, {}{}) at 0x{:x} behind sys.implementation.version (the "
              "tuple at 0x{:x} holding the qstr \"micropython\" points at it)",
              *major, *minor, *micro, *len > 3 ? ", <qstr>" : "", *version, a - 2 * W);
          // _mpy: the first small int among the items after the version.
          for (std::uint64_t i = 2; i < *n; ++i)
            if (auto v = w.at(a + i * W); v && small_int(*v)) {
              out.mpy = small_int(*v);
              out.source += fmt::format("; sys.implementation._mpy = 0x{:x} (.mpy version {}.{})",
                                        *out.mpy, *out.mpy & 0xff, (*out.mpy >> 8) & 3);
              break;
            }
          return out;
        }
      }
    }
  }
  if (auto b = stock_banner(flash)) {
    out.text = b->second;
    out.number = version_number(b->second);
    out.source = fmt::format("the banner string at 0x{:x}", b->first);
    return out;
  }
  out.source = fmt::format(
      "unknown: no sys.implementation.version tuple in the image (a tuple of small ints pointed "
      "at right after the qstr \"micropython\": {}) and no \"MicroPython v1.x\" banner{}",
      micropython == rom_qstrs.end() ? "there is no such qstr, so no sys.implementation"
                                     : "none found",
      out.banner.empty()
          ? std::string()
          : fmt::format("; the banner \"{}\" names the fork's version, not MicroPython's",
                        out.banner));
  return out;
}

}  // namespace mpheap::target
