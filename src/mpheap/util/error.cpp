// Formatting of diagnostics.
#include "mpheap/util/error.h"

#include <fmt/format.h>

namespace mpheap {

const char* kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::bad_input:
      return "bad input";
    case ErrorKind::not_found:
      return "not found";
    case ErrorKind::unsupported:
      return "unsupported";
    case ErrorKind::io:
      return "I/O error";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::cancelled:
      return "cancelled";
    case ErrorKind::usage:
      return "usage";
  }
  return "error";
}

std::string Error::message() const {
  if (source.empty()) return what;
  if (line != 0) return fmt::format("{}:{}: {}", source, line, what);
  if (offset != 0) return fmt::format("{}: byte {}: {}", source, offset, what);
  return fmt::format("{}: {}", source, what);
}

}  // namespace mpheap
