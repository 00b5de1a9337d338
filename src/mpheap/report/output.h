// Buffered output to a file or stdout, and JSON string escaping, for the presenters.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "mpheap/util/error.h"

namespace mpheap::report {

class Output {
 public:
  // "-" is standard output.
  static Expected<std::unique_ptr<Output>> open(const std::string& path);
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;
  ~Output();

  void write(std::string_view s) {
    buffer_.append(s);
    if (buffer_.size() >= kFlushBytes) flush();
  }
  std::string& buffer() { return buffer_; }  // append directly, then call maybe_flush()
  void maybe_flush() {
    if (buffer_.size() >= kFlushBytes) flush();
  }
  // Writes everything out and closes; reports a failed write (disk full) as an error.
  Expected<bool> close();
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  static constexpr std::size_t kFlushBytes = 1 << 20;
  Output(std::string path, std::FILE* f, bool owned)
      : path_(std::move(path)), file_(f), owned_(owned) {}
  void flush();

  std::string path_;
  std::FILE* file_ = nullptr;
  bool owned_ = false;
  bool failed_ = false;
  std::string buffer_;
};

// Appends `s` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view s);

}  // namespace mpheap::report
