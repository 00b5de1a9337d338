// Reading a whole input file, with the one error message every reader gives when it cannot.
#pragma once

#include <string>

#include "mpheap/util/error.h"

namespace mpheap::io {

// The file's bytes; an Error naming the file and the system's reason when it cannot be read.
Expected<std::string> read_whole_file(const std::string& path);

}  // namespace mpheap::io
