#include "mpheap/io/file.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace mpheap::io {

Expected<std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path, 0, 0, fmt::format("cannot open: {}", std::strerror(errno))};
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Error{path, 0, 0, fmt::format("cannot read: {}", std::strerror(errno))};
  return bytes;
}

}  // namespace mpheap::io
