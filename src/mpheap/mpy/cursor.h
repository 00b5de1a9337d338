// A bounds-checked cursor over the bytes of a .mpy file that charges every byte it reads
// to one part of one owner (see Part), so the size breakdown is exact by construction.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "mpheap/mpy/model.h"

namespace mpheap::mpy::detail {

// Thrown inside the readers only; read_mpy() turns it into an Error value.
struct ReadFailure {
  std::uint64_t offset;
  std::string what;
};

[[noreturn]] void fail(std::uint64_t offset, std::string what);

class Cursor {
 public:
  explicit Cursor(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  void charge_to(PartSizes* owner) { owner_ = owner; }
  [[nodiscard]] PartSizes* owner() const { return owner_; }
  [[nodiscard]] std::uint64_t pos() const { return pos_; }
  [[nodiscard]] std::uint64_t left() const { return bytes_.size() - pos_; }

  std::uint8_t byte(Part part, std::string_view what) {
    if (pos_ >= bytes_.size()) fail(pos_, std::string(what) + " expected, but the file ends");
    (*owner_)[static_cast<std::size_t>(part)] += 1;
    return bytes_[pos_++];
  }

  // A MicroPython var-uint: 7 bits per byte, most significant first, high bit = more.
  std::uint64_t uint(Part part, std::string_view what) {
    std::uint64_t start = pos_;
    std::uint64_t value = 0;
    for (int i = 0;; ++i) {
      if (i == 9) fail(start, std::string(what) + ": var-uint longer than 9 bytes");
      std::uint8_t b = byte(part, what);
      value = (value << 7) | (b & 0x7fu);
      if ((b & 0x80u) == 0) return value;
    }
  }

  // A var-uint that must fit a 32-bit count or length.
  std::uint32_t count(Part part, std::string_view what) {
    std::uint64_t start = pos_;
    std::uint64_t v = uint(part, what);
    if (v > 0xffffffffu) fail(start, std::string(what) + " too large");
    return static_cast<std::uint32_t>(v);
  }

  std::span<const std::uint8_t> bytes(std::uint64_t n, Part part, std::string_view what) {
    if (n > left())
      fail(pos_, std::string(what) + ": " + std::to_string(n) + " bytes expected, but only " +
                     std::to_string(left()) + " are left");
    auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    (*owner_)[static_cast<std::size_t>(part)] += n;
    return out;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::uint64_t pos_ = 0;
  PartSizes* owner_ = nullptr;
};

// Reads a var-uint from `data` at `*pos` (a raw code's own bytes); `base` is the file offset
// of data[0] for messages.
std::uint64_t data_uint(std::span<const std::uint8_t> data, std::uint32_t* pos, std::uint64_t base,
                        std::string_view what);

// Decodes the bytecode line-number table data[begin, end) into (offset, line) steps.
std::vector<LineEntry> decode_lines(std::span<const std::uint8_t> data, std::uint32_t begin,
                                    std::uint32_t end);

// The signature and size bytes of a v5/v6 prelude. Advances *pos.
void decode_compressed_prelude(std::span<const std::uint8_t> data, std::uint32_t* pos,
                               std::uint64_t base, Prelude* p);

// The readers per format generation.
void read_v3(Cursor& in, MpyFile& file);
void read_v4_v5(Cursor& in, MpyFile& file);
void read_v6(Cursor& in, MpyFile& file);

}  // namespace mpheap::mpy::detail
