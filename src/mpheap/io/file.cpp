#include "mpheap/io/file.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <iterator>

namespace mpheap::io {

Error open_error(const std::string& path, int err) {
  return Error{path, 0, 0, fmt::format("cannot open: {}", std::strerror(err)),
               err == ENOENT || err == ENOTDIR ? ErrorKind::not_found : ErrorKind::io};
}

Expected<std::ifstream> open_input_file(const std::string& path, const char* what, bool at_end) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return open_error(path, errno);
  if (S_ISDIR(st.st_mode))
    return Error{path, 0, 0, fmt::format("is a directory; expected {} (a file)", what)};
  std::ifstream in(path, at_end ? std::ios::binary | std::ios::ate : std::ios::binary);
  if (!in) return open_error(path, errno);
  return in;
}

Expected<std::string> read_whole_file(const std::string& path) {
  auto in = open_input_file(path, "a file to read");
  if (!in) return in.error();
  std::string bytes((std::istreambuf_iterator<char>(*in)), std::istreambuf_iterator<char>());
  if (in->bad())
    return Error{path, 0, 0, fmt::format("cannot read: {}", std::strerror(errno)), ErrorKind::io};
  return bytes;
}

}  // namespace mpheap::io
