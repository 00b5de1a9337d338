// Block-wise line reading with read(2): memory stays at one block plus the longest line.
#include "mpheap/io/line_reader.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mpheap/io/file.h"

namespace mpheap::io {

Expected<std::unique_ptr<LineReader>> LineReader::open(const std::string& path) {
  if (path == "-") {
    return std::unique_ptr<LineReader>(new LineReader("<stdin>", STDIN_FILENO, 0));
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return open_error(path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Error{path, 0, 0, "cannot read: it is a directory, expected a text log file"};
  }
  auto reader = std::unique_ptr<LineReader>(
      new LineReader(path, fd, S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0));
  reader->owns_fd_ = true;
#ifdef POSIX_FADV_SEQUENTIAL
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  return reader;
}

std::unique_ptr<LineReader> LineReader::from_memory(std::string_view data, std::string name) {
  auto reader = std::unique_ptr<LineReader>(new LineReader(std::move(name), -1, data.size()));
  reader->memory_ = data;
  reader->base_ = data.data();
  reader->end_ = data.size();
  reader->eof_ = true;
  return reader;
}

LineReader::LineReader(std::string name, int fd, std::uint64_t size_hint)
    : name_(std::move(name)), fd_(fd), size_hint_(size_hint) {
  if (fd_ >= 0) {
    buffer_.resize(kBlockBytes);
    base_ = buffer_.data();
  }
}

LineReader::~LineReader() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

// Moves the unread tail to the front of the buffer and appends the next block.
bool LineReader::refill() {
  if (eof_ || fd_ < 0) return false;
  std::size_t tail = end_ - begin_;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, tail);
    window_offset_ += begin_;
    begin_ = 0;
    end_ = tail;
  }
  if (buffer_.size() - end_ < kBlockBytes / 2) {
    if (buffer_.size() >= kMaxLineBytes) {
      error_ = std::make_unique<Error>(
          Error{name_, line_number_ + 1, 0,
                fmt::format("expected a text line, found more than {} MiB without a newline",
                            kMaxLineBytes >> 20)});
      return false;
    }
    buffer_.resize(buffer_.size() * 2);
  }
  base_ = buffer_.data();
  for (;;) {
    ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_ = std::make_unique<Error>(Error{name_, 0, window_offset_ + end_,
                                             fmt::format("read failed: {}", std::strerror(errno))});
      eof_ = true;
      return false;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    end_ += static_cast<std::size_t>(n);
    return true;
  }
}

bool LineReader::next(Line& line) {
  if (error_) return false;
  for (;;) {
    const char* start = base_ + begin_;
    std::size_t avail = end_ - begin_;
    const char* nl = avail ? static_cast<const char*>(std::memchr(start, '\n', avail)) : nullptr;
    std::size_t len = 0;
    if (nl != nullptr) {
      len = static_cast<std::size_t>(nl - start);
    } else if (!eof_) {
      refill();
      if (error_) return false;
      continue;
    } else if (avail == 0) {
      return false;
    } else {
      len = avail;
    }
    line.offset = window_offset_ + begin_;
    line.terminated = nl != nullptr;
    line.number = ++line_number_;
    std::size_t text_len = len;
    if (text_len > 0 && start[text_len - 1] == '\r') --text_len;
    line.text = std::string_view(start, text_len);
    std::size_t step = nl != nullptr ? len + 1 : len;
    begin_ += step;
    consumed_ += step;
    return true;
  }
}

}  // namespace mpheap::io
