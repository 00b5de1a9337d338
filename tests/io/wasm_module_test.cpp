// WebAssembly modules as firmware images: the active data segments at their addresses; every
// malformed count, length and LEB128 is an error at its byte offset, never a read past the end.
#include "mpheap/io/wasm_module.h"

#include <gtest/gtest.h>

#include <string>

#include "mpheap/io/firmware_image.h"

namespace mpheap::io {
namespace {

std::string leb(std::uint64_t n) {
  std::string out;
  do {
    auto b = static_cast<char>(n & 0x7f);
    n >>= 7;
    out += static_cast<char>(n != 0 ? (b | 0x80) : b);
  } while (n != 0);
  return out;
}

std::string section(char id, const std::string& body) {
  return std::string(1, id) + leb(body.size()) + body;
}

const std::string kHeader("\0asm\1\0\0\0", 8);

// i32.const with a 3-byte signed LEB128 (0x10000 needs the sign bit clear).
std::string at(std::uint32_t address) {
  std::string e = "\x41";
  std::int64_t v = address;
  for (bool more = true; more;) {
    auto b = static_cast<char>(v & 0x7f);
    v >>= 7;
    more = !((v == 0 && (b & 0x40) == 0) || (v == -1 && (b & 0x40) != 0));
    e += static_cast<char>(more ? (b | 0x80) : b);
  }
  return e + "\x0b";
}

TEST(WasmModule, ActiveSegmentsArePlacedPassiveOnesAreNot) {
  std::string data = leb(3) + std::string(1, '\0') + at(0x10000) + leb(4) + "ABCD" +
                     std::string(1, '\1') + leb(2) + "zz" + std::string(1, '\0') + at(0x10004) +
                     leb(2) + "EF";
  std::string m = kHeader + section('\x0b', data);
  auto parsed = parse_wasm_module(m, "t.wasm");
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->segments.size(), 2u);
  EXPECT_EQ(parsed->passive_segments, 1u);
  MemoryImage image = wasm_memory_image(*parsed, m, "t.wasm");
  ASSERT_EQ(image.ranges().size(), 1u);  // touching segments joined
  EXPECT_EQ(image.ranges()[0].address, 0x10000u);
  EXPECT_EQ(image.bytes(0x10000, 6).value_or(""), "ABCDEF");
  auto loaded = read_firmware_image(m, "t.wasm", std::nullopt);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->format, ImageFormat::wasm);
}

TEST(WasmModule, MalformedInputsAreErrorsWithOffsets) {
  struct Case {
    std::string bytes;
    std::uint64_t offset;
    const char* says;
  };
  const Case cases[] = {
      {std::string("\0asm\2\0\0\0", 8), 4, "expected binary format version 1, found 2"},
      {std::string("\0asm\1\0", 6), 4, "expected a 4-byte version"},
      // A section size of six LEB128 bytes: longer than a u32 allows.
      {kHeader + "\x0b\x80\x80\x80\x80\x80\x01", 9, "longer than 5 bytes"},
      // Five bytes whose last holds more than the 4 bits a u32 has left.
      {kHeader + "\x0b\xff\xff\xff\xff\x7f", 9, "does not fit in 32 bits"},
      {kHeader + "\x0b\x10" + "ab", 9, "says 16 bytes, but only 2 are left in the file"},
      {kHeader + section('\x0b', leb(1) + std::string(1, '\0') + at(0) + leb(100) + "ab"), 15,
       "says 100 bytes, but only 2 are left in the section"},
      {kHeader + section('\x0b', leb(1000) + "\0"), 10, "cannot hold more than"},
      {kHeader + section('\x0b', leb(1) + "\x07"), 11, "expected flags 0, 1 or 2, found 7"},
      {kHeader + section('\x0b', leb(1) + std::string(1, '\0') + "\x44\x00\x0b" + leb(0)), 12,
       "found opcode 0x44"},
      {kHeader + section('\x0b', leb(1) + std::string(1, '\0') + "\x41\x00\x0c" + leb(0)), 14,
       "expected end (0x0b)"},
      {kHeader + section('\x0b', leb(0)), 0, "no active data segment"},
  };
  for (const Case& c : cases) {
    auto parsed = parse_wasm_module(c.bytes, "bad.wasm");
    ASSERT_FALSE(parsed) << c.says;
    EXPECT_EQ(parsed.error().offset, c.offset) << parsed.error().message();
    EXPECT_NE(parsed.error().what.find(c.says), std::string::npos) << parsed.error().message();
  }
}

TEST(WasmModule, RelocatableModulesAreUnsupported) {
  std::string m =
      kHeader + section('\x0b', leb(1) + std::string(1, '\0') + "\x23\x00\x0b" + leb(1) + "z");
  auto parsed = parse_wasm_module(m, "pic.wasm");
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().kind, ErrorKind::unsupported);
}

}  // namespace
}  // namespace mpheap::io
