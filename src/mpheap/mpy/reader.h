// Reads .mpy files of every format version (3, 4, 5, 6.0-6.3; 'M' and CircuitPython 'C')
// into the one MpyFile model.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "mpheap/mpy/model.h"
#include "mpheap/util/error.h"

namespace mpheap::mpy {

// Parses `bytes`; `source` names the file in errors. Errors carry the byte offset where the
// file stopped making sense and what was expected there.
Expected<MpyFile> read_mpy(std::span<const std::uint8_t> bytes, std::string source);

// Reads the whole file at `path` and parses it.
Expected<MpyFile> read_mpy_file(const std::string& path);

}  // namespace mpheap::mpy
