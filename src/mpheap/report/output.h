// Buffered output to a file or stdout, and JSON string escaping, for the presenters.
// Full buffers are written by a background thread while the caller fills the next one, so
// large outputs (a 280 MB allocation history) cost the producer almost nothing.
#pragma once

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

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
  Output(std::string path, std::FILE* f, bool owned);
  void flush();  // hands the full buffer to the writer thread
  void writer_loop();
  void write_now(const std::string& data);

  std::string path_;
  std::FILE* file_ = nullptr;
  bool owned_ = false;
  std::string buffer_;     // being filled by the caller
  std::string in_flight_;  // being written by the writer thread
  std::mutex mutex_;
  std::condition_variable changed_;
  bool has_work_ = false;  // in_flight_ holds data to write
  bool stopping_ = false;
  bool failed_ = false;
  int write_errno_ = 0;
  std::thread writer_;
};

// Writes `text` to `path` ("-" = stdout) and closes it; a failed open or write is the error.
Expected<bool> write_text_file(const std::string& path, std::string_view text);

// Appends `s` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view s);

// Appends `s` as XML/HTML text or attribute value: & < > " escaped, and control characters
// (not allowed in XML 1.0) as '?'; bytes >= 0x80 pass (names are UTF-8 or were replaced by the
// decoder).
void append_xml_text(std::string& out, std::string_view s);

}  // namespace mpheap::report
