// Opening and reading input files, with the one error message every reader gives when it
// cannot: the file, the system's reason, and the kind (not found, I/O, a directory given
// where a file was expected).
#pragma once

#include <fstream>
#include <string>

#include "mpheap/util/error.h"

namespace mpheap::io {

// The file's bytes; an Error naming the file and the system's reason when it cannot be read.
Expected<std::string> read_whole_file(const std::string& path);

// The file opened for binary reading (positioned at its end with `at_end`), or why not: it
// does not exist (not found), it is a directory or not a regular file (bad input, saying what
// was expected), or the system refused (I/O, with its reason). `what` names what the file
// should be ("a RAM dump").
Expected<std::ifstream> open_input_file(const std::string& path, const char* what,
                                        bool at_end = false);

// The error for a failed open(2)/ifstream of `path` with `err` (an errno value).
Error open_error(const std::string& path, int err);

}  // namespace mpheap::io
