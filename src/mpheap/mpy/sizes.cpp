// Walks the raw-code tree summing the bytes each part of each function owns.
#include "mpheap/mpy/sizes.h"

namespace mpheap::mpy {
namespace {

void walk(const RawCode& rc, const std::string& path, FileSizes& out) {
  FunctionSize f;
  f.path = path;
  f.kind = rc.kind;
  f.file_offset = rc.file_offset;
  f.parts = rc.sizes;
  f.total = total(rc.sizes);
  for (std::size_t i = 0; i < kPartCount; ++i) out.parts[i] += rc.sizes[i];
  out.functions.push_back(std::move(f));
  for (const RawCode& c : rc.children)
    walk(c, path == "<module>" ? c.name : path + "." + c.name, out);
}

}  // namespace

std::uint64_t total(const PartSizes& p) {
  std::uint64_t n = 0;
  for (auto v : p) n += v;
  return n;
}

FileSizes size_breakdown(const MpyFile& file) {
  FileSizes out;
  out.source = file.source;
  out.size = file.size;
  out.version = file.header.version;
  out.file_level = file.sizes;
  out.parts = file.sizes;
  walk(file.module, "<module>", out);
  return out;
}

}  // namespace mpheap::mpy
