// Output files and JSON escaping.
#include "mpheap/report/output.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace mpheap::report {

Expected<std::unique_ptr<Output>> Output::open(const std::string& path) {
  if (path == "-") return std::unique_ptr<Output>(new Output("<stdout>", stdout, false));
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Error{path, 0, 0, fmt::format("cannot write: {}", std::strerror(errno))};
  return std::unique_ptr<Output>(new Output(path, f, true));
}

Output::~Output() {
  if (file_ != nullptr) close();
}

void Output::flush() {
  if (file_ != nullptr && !buffer_.empty() &&
      std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size())
    failed_ = true;
  buffer_.clear();
}

Expected<bool> Output::close() {
  flush();
  if (file_ == nullptr) return true;
  bool ok = std::fflush(file_) == 0 && !failed_;
  if (owned_) ok = std::fclose(file_) == 0 && ok;
  file_ = nullptr;
  if (!ok) return Error{path_, 0, 0, fmt::format("write failed: {}", std::strerror(errno))};
  return true;
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b < 0xe0 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  return n;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      // Valid UTF-8 is copied; other bytes are read as Latin-1 so the JSON stays valid.
      if (std::size_t n = utf8_sequence(s, i); n > 0) {
        out.append(s.substr(i, n));
        i += n - 1;
      } else {
        fmt::format_to(std::back_inserter(out), "\\u{:04x}", u);
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", u);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

}  // namespace mpheap::report
