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

Expected<bool> write_text_file(const std::string& path, std::string_view text) {
  auto out = Output::open(path);
  if (!out) return out.error();
  (*out)->write(text);
  return (*out)->close();
}

Output::Output(std::string path, std::FILE* f, bool owned)
    : path_(std::move(path)), file_(f), owned_(owned) {
  if (owned_) std::setvbuf(file_, nullptr, _IONBF, 0);  // our buffers are large: no stdio copy
  writer_ = std::thread([this] { writer_loop(); });
}

Output::~Output() {
  if (file_ != nullptr) (void)close();
}

void Output::write_now(const std::string& data) {
  if (!data.empty() && std::fwrite(data.data(), 1, data.size(), file_) != data.size()) {
    failed_ = true;
    write_errno_ = errno;
  }
}

void Output::writer_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return has_work_ || stopping_; });
    if (!has_work_) return;
    lock.unlock();
    write_now(in_flight_);
    in_flight_.clear();
    lock.lock();
    has_work_ = false;
    changed_.notify_all();
  }
}

void Output::flush() {
  if (buffer_.empty()) return;
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return !has_work_; });
  std::swap(buffer_, in_flight_);
  has_work_ = true;
  changed_.notify_all();
}

Expected<bool> Output::close() {
  if (file_ == nullptr) return true;
  flush();
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !has_work_; });
    stopping_ = true;
    changed_.notify_all();
  }
  writer_.join();
  bool ok = !failed_ && std::fflush(file_) == 0;
  int err = failed_ ? write_errno_ : errno;
  if (owned_ && std::fclose(file_) != 0 && ok) {
    ok = false;
    err = errno;
  }
  file_ = nullptr;
  if (!ok) return Error{path_, 0, 0, fmt::format("write failed: {}", std::strerror(err))};
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

void append_xml_text(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
    }
  }
}

}  // namespace mpheap::report
