// The MicroPython version of a firmware image, from what the image itself holds, with where it
// came from:
//  - the ROM tuple behind sys.implementation.version: a tuple of small ints (major, minor,
//    micro), since 1.24 followed by a qstr (the release level), pointed at from the
//    sys.implementation (attr)tuple right after the qstr "micropython"; that tuple's small int
//    item after the machine string is _mpy (the .mpy version, sub-version and native arch);
//  - the banner "MicroPython v1.x..." of stock builds;
//  - a fork's banner ("Pybricks MicroPython ci-release-...") names the fork's version only: it
//    is reported, never read as MicroPython's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mpheap/io/memory_image.h"
#include "mpheap/target/target.h"

namespace mpheap::target {

struct ImageVersion {
  std::optional<std::pair<int, int>> number;  // (major, minor) when known
  std::string text;    // "1.26.1", or the banner's "MicroPython v1.9.2-34-g... on 2017-09-01"
  std::string source;  // where it came from, or why it is unknown
  std::string banner;  // a fork's banner, when there is one
  std::optional<std::uint64_t> mpy;  // sys.implementation._mpy
  std::optional<std::uint64_t> tuple_address;
};

// `types` and `rom_qstrs` as found in the image (the tuple types and the qstr "micropython").
ImageVersion find_image_version(const io::MemoryImage& flash, std::uint32_t word_size,
                                bool little_endian, const std::vector<TypeObject>& types,
                                const std::vector<std::string>& rom_qstrs);

// (major, minor) from "MicroPython v1.9.2-..." or "1.26.1".
std::optional<std::pair<int, int>> version_number(const std::string& text);

}  // namespace mpheap::target
