// Size accounting: where the bytes of .mpy files go, per part and per function.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mpheap/mpy/model.h"

namespace mpheap::mpy {

struct FunctionSize {
  std::string path;  // "<module>", "Class.method", "outer.<lambda>"
  CodeKind kind = CodeKind::Bytecode;
  std::uint64_t file_offset = 0;
  PartSizes parts{};  // the raw code's own bytes, children excluded
  std::uint64_t total = 0;
};

struct FileSizes {
  std::string source;
  std::uint64_t size = 0;
  std::uint8_t version = 0;
  PartSizes parts{};                    // whole file: sums to `size` exactly
  PartSizes file_level{};               // header, the v6 qstr and object tables
  std::vector<FunctionSize> functions;  // in file order
};

std::uint64_t total(const PartSizes& p);
FileSizes size_breakdown(const MpyFile& file);

}  // namespace mpheap::mpy
