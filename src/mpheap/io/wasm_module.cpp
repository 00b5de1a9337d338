// The data segments of a WebAssembly module: see wasm_module.h.
#include "mpheap/io/wasm_module.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace mpheap::io {
namespace {

constexpr std::uint8_t kDataSection = 11;
constexpr std::uint8_t kCustomSection = 0;
constexpr std::uint8_t kI32Const = 0x41, kI64Const = 0x42, kGlobalGet = 0x23, kEnd = 0x0b;

// A cursor over the module that checks every read against the bytes left.
class Cursor {
 public:
  Cursor(std::string_view bytes, const std::string& name) : b_(bytes), name_(name) {}

  [[nodiscard]] std::uint64_t at() const { return at_; }
  [[nodiscard]] std::uint64_t left() const { return end_ - at_; }
  [[nodiscard]] bool done() const { return at_ >= end_; }
  // Reads stop at the end of a section's body until leave_section().
  void enter_section(std::uint64_t end) {
    end_ = end;
    in_section_ = true;
  }
  void leave_section() {
    end_ = b_.size();
    in_section_ = false;
  }
  void seek(std::uint64_t at) { at_ = at; }

  Error fail(std::uint64_t offset, std::string what) const {
    return Error{name_, 0, offset, std::move(what)};
  }

  Expected<std::uint8_t> byte(const char* what) {
    if (at_ >= end_)
      return fail(at_, fmt::format("expected {} (1 byte), found the end of {}", what, scope()));
    return static_cast<std::uint8_t>(b_[at_++]);
  }

  // Unsigned LEB128 of at most `bits` bits.
  Expected<std::uint64_t> uleb(unsigned bits, const char* what) {
    std::uint64_t start = at_, value = 0;
    const unsigned max_bytes = (bits + 6) / 7;
    for (unsigned i = 0;; ++i) {
      if (i == max_bytes)
        return fail(start,
                    fmt::format("{}: a LEB128 u{} longer than {} bytes", what, bits, max_bytes));
      auto c = byte(what);
      if (!c) return c.error();
      std::uint64_t part = *c & 0x7f;
      if (i == max_bytes - 1 && bits % 7 != 0 && (part >> (bits % 7)) != 0)
        return fail(start, fmt::format("{}: the LEB128 value does not fit in {} bits", what, bits));
      value |= part << (7 * i);
      if ((*c & 0x80) == 0) return value;
    }
  }

  // Signed LEB128 of at most `bits` bits, as the two's complement bits of the address.
  Expected<std::int64_t> sleb(unsigned bits, const char* what) {
    std::uint64_t start = at_;
    std::int64_t value = 0;
    unsigned shift = 0;
    const unsigned max_bytes = (bits + 6) / 7;
    for (unsigned i = 0;; ++i) {
      if (i == max_bytes)
        return fail(start, fmt::format("{}: a signed LEB128 i{} longer than {} bytes", what, bits,
                                       max_bytes));
      auto c = byte(what);
      if (!c) return c.error();
      value |= static_cast<std::int64_t>(static_cast<std::uint64_t>(*c & 0x7f) << shift);
      shift += 7;
      if ((*c & 0x80) == 0) {
        if (shift < 64 && (*c & 0x40) != 0)
          value |= static_cast<std::int64_t>(~std::uint64_t{0} << shift);
        return value;
      }
    }
  }

  // A length-prefixed run of bytes that must fit in what is left.
  Expected<std::uint64_t> sized(const char* what) {
    std::uint64_t start = at_;
    auto n = uleb(32, what);
    if (!n) return n.error();
    if (*n > left())
      return fail(start, fmt::format("{} says {} bytes, but only {} are left in {}", what, *n,
                                     left(), scope()));
    return *n;
  }

 private:
  [[nodiscard]] const char* scope() const { return in_section_ ? "the section" : "the file"; }
  std::string_view b_;
  const std::string& name_;
  std::uint64_t at_ = 0;
  std::uint64_t end_ = b_.size();
  bool in_section_ = false;
};

// The constant expression of an active segment: i32.const N end (or i64.const for memory64).
Expected<std::uint64_t> offset_expr(Cursor& c) {
  std::uint64_t start = c.at();
  auto op = c.byte("the segment's offset expression");
  if (!op) return op.error();
  std::optional<std::uint64_t> value;
  if (*op == kI32Const) {
    auto v = c.sleb(32, "i32.const");
    if (!v) return v.error();
    value = static_cast<std::uint32_t>(*v);
  } else if (*op == kI64Const) {
    auto v = c.sleb(64, "i64.const");
    if (!v) return v.error();
    value = static_cast<std::uint64_t>(*v);
  } else if (*op == kGlobalGet) {
    Error e = c.fail(start,
                     "the data segment's address is global.get of a global (a relocatable "
                     "module placed by its loader): mpheap needs a module with fixed addresses "
                     "(i32.const)");
    e.kind = ErrorKind::unsupported;
    return e;
  } else {
    return c.fail(start, fmt::format("expected i32.const (0x41) or i64.const (0x42) as the data "
                                     "segment's offset, found opcode 0x{:02x}",
                                     *op));
  }
  std::uint64_t end_at = c.at();
  auto end = c.byte("end (0x0b) of the offset expression");
  if (!end) return end.error();
  if (*end != kEnd)
    return c.fail(
        end_at, fmt::format("expected end (0x0b) after the offset constant, found 0x{:02x}", *end));
  return *value;
}

}  // namespace

bool is_wasm_module(std::string_view bytes) {
  return bytes.size() >= 4 && bytes.substr(0, 4) == std::string_view("\0asm", 4);
}

Expected<WasmModule> parse_wasm_module(std::string_view bytes, const std::string& name) {
  Cursor c(bytes, name);
  if (!is_wasm_module(bytes)) return c.fail(0, "expected the WebAssembly magic \"\\0asm\"");
  if (bytes.size() < 8)
    return c.fail(4, fmt::format("expected a 4-byte version after the magic, found {} bytes",
                                 bytes.size() - 4));
  WasmModule m;
  for (std::size_t i = 0; i < 4; ++i)
    m.version |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[4 + i])) << (8 * i);
  if (m.version != 1)
    return c.fail(4, fmt::format("expected binary format version 1, found {}", m.version));
  c.seek(8);
  bool seen_data = false;
  while (!c.done()) {
    std::uint64_t section_at = c.at();
    auto id = c.byte("a section id");
    if (!id) return id.error();
    auto size = c.sized("the section size");
    if (!size) return size.error();
    std::uint64_t body = c.at(), body_end = body + *size;
    if (*id == kCustomSection) {
      c.enter_section(body_end);
      auto n = c.sized("the custom section's name length");
      if (n && bytes.substr(c.at(), *n) == "name") m.has_name_section = true;
      c.leave_section();
    } else if (*id == kDataSection) {
      if (seen_data) return c.fail(section_at, "a second data section");
      seen_data = true;
      c.enter_section(body_end);
      auto count = c.uleb(32, "the data segment count");
      if (!count) return count.error();
      // Each segment takes at least 3 bytes (flags, an empty expression's end, a zero length).
      if (*count > c.left() / 3 + 1)
        return c.fail(body, fmt::format("the data section says {} segments, but {} bytes cannot "
                                        "hold more than {}",
                                        *count, c.left(), c.left() / 3));
      for (std::uint64_t i = 0; i < *count; ++i) {
        std::uint64_t seg_at = c.at();
        auto flags = c.uleb(32, "a data segment's flags");
        if (!flags) return flags.error();
        std::uint64_t memory = 0;
        std::optional<std::uint64_t> address;
        if (*flags == 0 || *flags == 2) {
          if (*flags == 2) {
            auto mem = c.uleb(32, "a data segment's memory index");
            if (!mem) return mem.error();
            memory = *mem;
          }
          auto off = offset_expr(c);
          if (!off) return off.error();
          address = *off;
        } else if (*flags != 1) {
          return c.fail(seg_at, fmt::format("data segment {}: expected flags 0, 1 or 2, found {}",
                                            i, *flags));
        }
        auto n = c.sized("a data segment's length");
        if (!n) return n.error();
        std::uint64_t data_at = c.at();
        c.seek(data_at + *n);
        if (!address) {
          ++m.passive_segments;
          continue;
        }
        if (memory != 0) continue;  // only memory 0 is the port's linear memory
        m.segments.push_back(WasmDataSegment{*address, data_at, *n});
      }
      if (c.at() != body_end)
        return c.fail(c.at(), fmt::format("the data section ends at byte {}, but its {} segments "
                                          "end at byte {}",
                                          body_end, *count, c.at()));
      c.leave_section();
    }
    c.seek(body_end);
  }
  if (m.segments.empty())
    return Error{name, 0, 0,
                 fmt::format("a WebAssembly module with no active data segment ({} passive): "
                             "nothing is placed in linear memory, so there is no image to read",
                             m.passive_segments),
                 ErrorKind::not_found};
  return m;
}

MemoryImage wasm_memory_image(const WasmModule& module, std::string_view bytes,
                              const std::string& name) {
  // Placed in address order, joined where they touch or overlap.
  std::vector<const WasmDataSegment*> order;
  for (const WasmDataSegment& s : module.segments)
    if (s.size > 0) order.push_back(&s);
  std::stable_sort(order.begin(), order.end(),
                   [](auto* a, auto* b) { return a->address < b->address; });
  MemoryImage image;
  MemoryRange cur;
  bool open = false;
  for (const WasmDataSegment* s : order) {
    auto data = bytes.substr(s->file_offset, s->size);
    if (open && s->address <= cur.end()) {
      std::uint64_t at = s->address - cur.address;
      if (at + data.size() > cur.bytes.size()) cur.bytes.resize(at + data.size());
      std::copy(data.begin(), data.end(), cur.bytes.begin() + static_cast<std::ptrdiff_t>(at));
      continue;
    }
    if (open) image.add(std::move(cur));
    cur = MemoryRange{s->address, std::vector<std::uint8_t>(data.begin(), data.end()), name};
    open = true;
  }
  if (open) image.add(std::move(cur));
  return image;
}

}  // namespace mpheap::io
