// Formatting of diagnostics.
#include "mpheap/util/error.h"

#include <fmt/format.h>

namespace mpheap {

std::string Error::message() const {
  if (line != 0) return fmt::format("{}:{}: {}", source, line, what);
  if (offset != 0) return fmt::format("{}: byte {}: {}", source, offset, what);
  return fmt::format("{}: {}", source, what);
}

}  // namespace mpheap
