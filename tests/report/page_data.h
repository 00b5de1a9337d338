// Reading the data `mpheap report` embeds in its page: the JSON and its base64 columns.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mpheap::testing {

// The JSON between <script id="mpheap-data" ...> and </script>.
inline nlohmann::json embedded_data(const std::string& page) {
  const std::string open = "<script id=\"mpheap-data\" type=\"application/json\">";
  auto from = page.find(open);
  EXPECT_NE(from, std::string::npos);
  if (from == std::string::npos) return {};
  from += open.size();
  auto to = page.find("</script>", from);
  EXPECT_NE(to, std::string::npos);
  return nlohmann::json::parse(page.substr(from, to - from));
}

// A base64 column of little-endian values of `width` bytes.
inline std::vector<std::uint32_t> column(const std::string& b64, int width) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : b64) {
    if (c == '=') break;
    acc = (acc << 6) | static_cast<std::uint32_t>(kAlphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((acc >> bits) & 0xffu));
    }
  }
  std::vector<std::uint32_t> out(bytes.size() / static_cast<std::size_t>(width));
  for (std::size_t i = 0; i < out.size(); ++i)
    for (int k = 0; k < width; ++k)
      out[i] |= static_cast<std::uint32_t>(static_cast<unsigned char>(
                    bytes[i * static_cast<std::size_t>(width) + static_cast<std::size_t>(k)]))
                << (8 * k);
  return out;
}

inline std::vector<std::uint32_t> u32s(const std::string& b64) {
  return column(b64, 4);
}

// A base64 column of unsigned LEB128 varints (the trace's allocations, docs/report.md).
inline std::vector<std::uint64_t> varints(const std::string& b64) {
  std::vector<std::uint32_t> bytes = column(b64, 1);
  std::vector<std::uint64_t> out;
  std::uint64_t v = 0;
  int shift = 0;
  for (std::uint32_t b : bytes) {
    v |= static_cast<std::uint64_t>(b & 0x7fu) << shift;
    shift += 7;
    if (!(b & 0x80u)) {
      out.push_back(v);
      v = 0;
      shift = 0;
    }
  }
  EXPECT_EQ(shift, 0) << "the column ends inside a value";
  return out;
}

// The trace's allocations as the page decodes them from the varint columns of "alloc".
struct PageAllocations {
  std::vector<std::uint64_t> start_block, size, start_time, end_time, stack, end;
};
inline PageAllocations allocations(const nlohmann::json& alloc) {
  PageAllocations a;
  auto dt = varints(alloc["start_time"]), life = varints(alloc["life"]),
       dblock = varints(alloc["start_block"]);
  a.size = varints(alloc["size"]);
  a.stack = varints(alloc["stack"]);
  std::uint64_t time = 0, block = 0;
  for (std::size_t i = 0; i < dt.size() && i < life.size() && i < dblock.size(); ++i) {
    time += dt[i];
    // Zigzag: even values are non-negative deltas, odd ones negative.
    block = dblock[i] % 2 ? block - (dblock[i] + 1) / 2 : block + dblock[i] / 2;
    a.start_time.push_back(time);
    a.start_block.push_back(block);
    a.end_time.push_back(time + life[i] / 8);
    a.end.push_back(life[i] % 8);
  }
  return a;
}

}  // namespace mpheap::testing
