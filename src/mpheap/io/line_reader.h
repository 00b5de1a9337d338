// Streams the lines of a text input (a file, stdin or a buffer) without per-line allocation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/util/error.h"

namespace mpheap::io {

struct Line {
  std::string_view text;     // without the line terminator ("\n" or "\r\n")
  std::uint64_t number = 0;  // 1-based
  std::uint64_t offset = 0;  // byte offset of the line's first character
  bool terminated = true;    // false for a last line that ends without a newline
};

// Reads lines in large blocks. A line's text stays valid until the next call to next().
// Lines longer than `max_line_bytes` are an error (the input is then not a text log).
class LineReader {
 public:
  static constexpr std::size_t kBlockBytes = 1 << 20;
  static constexpr std::size_t kMaxLineBytes = 64 << 20;

  // Opens `path` ("-" reads standard input).
  static Expected<std::unique_ptr<LineReader>> open(const std::string& path);
  // Reads lines from memory that outlives the reader.
  static std::unique_ptr<LineReader> from_memory(std::string_view data, std::string name);

  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;
  ~LineReader();

  // The next line, or false at end of input; an I/O failure or an overlong line sets error().
  bool next(Line& line);

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::uint64_t bytes_consumed() const { return consumed_; }
  [[nodiscard]] std::uint64_t lines_read() const { return line_number_; }
  // Total size in bytes when known (regular files and memory), else 0.
  [[nodiscard]] std::uint64_t size_hint() const { return size_hint_; }
  [[nodiscard]] const Error* error() const { return error_ ? error_.get() : nullptr; }

 private:
  LineReader(std::string name, int fd, std::uint64_t size_hint);
  bool refill();

  std::string name_;
  int fd_ = -1;
  bool owns_fd_ = false;
  bool eof_ = false;
  std::vector<char> buffer_;
  std::string_view memory_;          // for from_memory: the whole input
  std::size_t begin_ = 0;            // first unread byte in the current window
  std::size_t end_ = 0;              // end of valid bytes in the current window
  const char* base_ = nullptr;       // start of the current window
  std::uint64_t window_offset_ = 0;  // input offset of base_[0]
  std::uint64_t consumed_ = 0;
  std::uint64_t line_number_ = 0;
  std::uint64_t size_hint_ = 0;
  std::unique_ptr<Error> error_;
};

}  // namespace mpheap::io
