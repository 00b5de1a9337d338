// The REPL reader's lines: what the board makes of RAM and what the host accepts back. A line
// that lost, gained or changed a byte on the way is refused, never read as other memory.
#include "mpheap/capture/repl_reader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

namespace mpheap::capture {
namespace {

constexpr std::uint64_t kStart = 0x20000000, kEnd = 0x20004000;  // 16 KiB: 34 lines and 64 bytes

std::string ram_bytes(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7 + i / 3) & 0xff);
  return s;
}

TEST(ReplReader, ALineIsTheBoardsFormat) {
  const std::string line = encode_chunk_line(kStart + 480, ram_bytes(480, 1));
  ASSERT_EQ(line.size(), kReplLineChars + 1);
  EXPECT_EQ(line.substr(0, 9), "=200001e0");
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('.'), std::string::npos);  // a whole chunk fills the line
  // 1.38 bytes on the wire per byte of RAM; a 16 KiB read (34 whole lines and one of 64 bytes)
  // too.
  EXPECT_LT(static_cast<double>(line.size()) / kReplChunkBytes, 1.4);
  const std::size_t wire = 34 * line.size() + encode_chunk_line(kEnd - 64, ram_bytes(64, 1)).size();
  EXPECT_LT(static_cast<double>(wire) / 16384, 1.4);
}

TEST(ReplReader, WholeAndLastChunksDecode) {
  std::vector<std::uint8_t> out(kEnd - kStart, 0xee);
  const std::string first = ram_bytes(480, 2), last = ram_bytes(64, 3);
  std::string line = encode_chunk_line(kStart, first);
  EXPECT_EQ(
      decode_chunk_line(std::string_view(line).substr(0, kReplLineChars), kStart, kEnd, out.data()),
      kStart);
  EXPECT_EQ(std::string(out.begin(), out.begin() + 480), first);
  const std::uint64_t at = kStart + 34 * 480;
  line = encode_chunk_line(at, last);
  EXPECT_EQ(line.size(), 21u + 88u + 1u);  // 64 bytes: 88 characters, no padding
  EXPECT_EQ(decode_chunk_line(std::string_view(line).substr(0, line.size() - 1), kStart, kEnd,
                              out.data()),
            at);
  EXPECT_EQ(std::string(out.begin() + 34 * 480, out.end()), last);
  EXPECT_EQ(out[480], 0xee);  // nothing else written
}

TEST(ReplReader, DamagedLinesAreRefused) {
  std::vector<std::uint8_t> out(kEnd - kStart);
  const std::string data = ram_bytes(480, 4);
  const std::string good = encode_chunk_line(kStart + 960, data).substr(0, kReplLineChars);
  ASSERT_TRUE(decode_chunk_line(good, kStart, kEnd, out.data()));
  auto refused = [&](std::string line) {
    return !decode_chunk_line(line, kStart, kEnd, out.data()).has_value();
  };
  for (std::size_t at : {0u, 5u, 12u, 18u, 21u, 300u, 660u}) {
    std::string changed = good;
    changed[at] = changed[at] == 'A' ? 'B' : 'A';
    EXPECT_TRUE(refused(changed)) << "byte " << at << " changed";
    std::string lost = good;
    lost.erase(at, 1);
    EXPECT_TRUE(refused(lost)) << "byte " << at << " lost";
  }
  // Two bytes of RAM swapped: the same plain sum, another position-weighted one.
  std::string swapped = data;
  std::swap(swapped[10], swapped[11]);
  ASSERT_NE(swapped, data);
  std::string line = encode_chunk_line(kStart + 960, swapped);
  line.replace(9, 12, good.substr(9, 12));  // the sums of the original
  EXPECT_TRUE(refused(line.substr(0, kReplLineChars)));
  // A chunk of another read (not at start + k * 480, or outside [start, end)).
  EXPECT_TRUE(refused(encode_chunk_line(kStart + 16, data).substr(0, kReplLineChars)));
  EXPECT_TRUE(refused(encode_chunk_line(kEnd, data).substr(0, kReplLineChars)));
  // Nonzero padding bits in the last group of a short chunk; a whole-length line for it.
  std::string last = encode_chunk_line(kStart + 34 * 480, ram_bytes(64, 5));
  last.pop_back();
  ASSERT_TRUE(decode_chunk_line(last, kStart, kEnd, out.data()));
  ASSERT_EQ(last[21 + 87], 'A');  // 64 = 21 * 3 + 1: the last group's last two digits are 0
  std::string bits = last;
  bits[21 + 87] = 'B';
  EXPECT_TRUE(refused(bits));
  EXPECT_TRUE(refused(last + "AAAA"));
  EXPECT_TRUE(refused(std::string(last).append(kReplLineChars - last.size(), '.')));
}

TEST(ReplReader, LabelsComeWholeOrNotAtAll) {
  // What follows "=mpheap-begin": the label twice, so that a lost or changed byte shows.
  EXPECT_EQ(encode_label_part("after init"), "=after init=after init");
  EXPECT_EQ(decode_label_part("=after init=after init"), "after init");
  EXPECT_EQ(decode_label_part("=="), "");                 // mpheap_snap() with no label
  EXPECT_EQ(decode_label_part("=a=b c=a=b c"), "a=b c");  // '=' and spaces inside
  EXPECT_EQ(decode_label_part(encode_label_part("\xc3\xa9t\xc3\xa9")), "\xc3\xa9t\xc3\xa9");
  EXPECT_FALSE(decode_label_part(""));  // no label part: a read without a label
  const std::string good = encode_label_part("late dict");
  for (std::size_t at = 0; at < good.size(); ++at) {
    std::string lost = good;
    lost.erase(at, 1);
    EXPECT_FALSE(decode_label_part(lost)) << "byte " << at << " lost";
    std::string changed = good;
    changed[at] = changed[at] == 'x' ? '=' : 'x';
    EXPECT_FALSE(decode_label_part(changed)) << "byte " << at << " changed";
  }
  EXPECT_FALSE(decode_label_part(good + "\r"));
}

TEST(ReplReader, TheProgramAllocatesNothingPerWord) {
  // The board's side: machine.mem8 (small integers), buffers made once, no range() or slices
  // in the loops, a generator so that resuming it needs no new frame.
  const std::string_view p = repl_reader_program();
  EXPECT_NE(p.find("m=machine.mem8"), std::string_view::npos);
  EXPECT_NE(p.find("o=bytearray(662)"), std::string_view::npos);
  EXPECT_NE(p.find("  yield\n"), std::string_view::npos);
  EXPECT_EQ(p.find("range("), std::string_view::npos);
  EXPECT_EQ(p.find("mem32"), std::string_view::npos);
  EXPECT_EQ(p.find("[:"), std::string_view::npos);
  EXPECT_EQ(p.find('\t'), std::string_view::npos);
}

}  // namespace
}  // namespace mpheap::capture
