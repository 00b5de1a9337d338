// Memory images built from dump files placed at addresses.
#include "mpheap/io/memory_image.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>

#include "mpheap/io/file.h"
#include "mpheap/io/load_word.h"
#include "mpheap/util/number.h"

namespace mpheap::io {

void MemoryImage::add(MemoryRange range) {
  // After every range starting at or below it, so that it wins where they overlap.
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), range.address,
                             [](std::uint64_t a, const MemoryRange& r) { return a < r.address; });
  ranges_.insert(it, std::move(range));
}

Expected<bool> MemoryImage::add_apart(MemoryRange range) {
  for (const MemoryRange& r : ranges_) {
    std::uint64_t lo = std::max(r.address, range.address);
    std::uint64_t hi = std::min(r.end(), range.end());
    if (lo < hi)
      return Error{range.source, 0, 0,
                   fmt::format("its 0x{:x}..0x{:x} overlaps {} (0x{:x}..0x{:x}) at 0x{:x}..0x{:x}: "
                               "every address must come from one dump only; give dumps of "
                               "different memory, or check the @ADDR of each",
                               range.address, range.end(), r.source, r.address, r.end(), lo, hi)};
  }
  add(std::move(range));
  return true;
}

const MemoryRange* MemoryImage::find(std::uint64_t address) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), address,
                             [](std::uint64_t a, const MemoryRange& r) { return a < r.address; });
  // Later ranges win where files overlap: search backwards from the last candidate.
  while (it != ranges_.begin()) {
    --it;
    if (address >= it->address && address < it->end()) return &*it;
  }
  return nullptr;
}

std::string_view MemoryImage::captured_from(std::uint64_t address) const {
  const MemoryRange* r = find(address);
  if (r == nullptr) return {};
  const std::uint64_t end = std::min(r->end(), next_start_after(address));
  return {reinterpret_cast<const char*>(r->bytes.data()) + (address - r->address),
          static_cast<std::size_t>(end - address)};
}

std::uint64_t MemoryImage::next_start_after(std::uint64_t address) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), address,
                             [](std::uint64_t a, const MemoryRange& r) { return a < r.address; });
  return it == ranges_.end() ? std::numeric_limits<std::uint64_t>::max() : it->address;
}

bool MemoryImage::covers(std::uint64_t address, std::uint64_t size) const {
  const MemoryRange* r = find(address);
  return r != nullptr && size <= r->end() - address;
}

std::optional<std::string_view> MemoryImage::bytes(std::uint64_t address,
                                                   std::uint64_t size) const {
  const MemoryRange* r = find(address);
  if (r == nullptr || size > r->end() - address) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(r->bytes.data()) + (address - r->address),
                          size);
}

std::optional<std::uint64_t> MemoryImage::read(std::uint64_t address, std::uint32_t size,
                                               bool little_endian) const {
  if (size == 0 || size > 8) return std::nullopt;
  auto b = bytes(address, size);
  if (!b) return std::nullopt;
  return load_word(b->data(), size, little_endian);
}

Expected<PlacedFile> parse_placed_file(std::string_view spec) {
  auto at = spec.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == spec.size()) {
    return Error{std::string(spec), 0, 0,
                 "expected FILE@ADDRESS (the address the dump starts at, e.g. ram.bin@0x20000000)"};
  }
  auto address = parse_uint(spec.substr(at + 1));
  if (!address) {
    return Error{std::string(spec), 0, 0,
                 fmt::format("expected an address after '@' (hex with 0x, or decimal), found '{}'",
                             spec.substr(at + 1))};
  }
  return PlacedFile{std::string(spec.substr(0, at)), *address};
}

Expected<MemoryRange> load_placed_file(const PlacedFile& placed) {
  auto in = open_input_file(placed.path, "a RAM dump");
  if (!in) return in.error();
  MemoryRange r;
  r.address = placed.address;
  r.source = placed.path;
  r.bytes.assign(std::istreambuf_iterator<char>(*in), std::istreambuf_iterator<char>());
  if (r.bytes.empty()) return Error{placed.path, 0, 0, "the dump is empty"};
  if (r.address + r.bytes.size() < r.address)
    return Error{placed.path, 0, 0, "the dump runs past the end of the address space"};
  return r;
}

Expected<bool> add_placed_file(MemoryImage& image, std::string_view spec) {
  auto placed = parse_placed_file(spec);
  if (!placed) return placed.error();
  auto range = load_placed_file(*placed);
  if (!range) return range.error();
  return image.add_apart(std::move(*range));
}

}  // namespace mpheap::io
