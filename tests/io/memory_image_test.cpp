// MemoryImage's reads across ranges: which range is read where ranges overlap, and the pieces
// a sweep over an address range sees (captured runs and the gaps between them).
#include "mpheap/io/memory_image.h"

#include <gtest/gtest.h>

#include <limits>

namespace mpheap::io {
namespace {

MemoryRange range(std::uint64_t address, std::size_t size, std::uint8_t fill) {
  return MemoryRange{address, std::vector<std::uint8_t>(size, fill), "r" + std::to_string(fill)};
}

TEST(MemoryImage, CapturedFromRunsToTheEndOfItsRange) {
  MemoryImage m;
  m.add(range(0x1000, 0x100, 1));
  m.add(range(0x2000, 0x10, 2));
  EXPECT_EQ(m.captured_from(0x1000).size(), 0x100u);
  EXPECT_EQ(m.captured_from(0x10f0).size(), 0x10u);
  EXPECT_EQ(m.captured_from(0x10f0)[0], '\x01');
  EXPECT_TRUE(m.captured_from(0x1100).empty());  // one past the end
  EXPECT_TRUE(m.captured_from(0xfff).empty());
  EXPECT_EQ(m.captured_from(0x2008).size(), 8u);
  EXPECT_EQ(m.next_start_after(0x0), 0x1000u);
  EXPECT_EQ(m.next_start_after(0x1000), 0x2000u);  // strictly above
  EXPECT_EQ(m.next_start_after(0x1100), 0x2000u);
  EXPECT_EQ(m.next_start_after(0x2000), std::numeric_limits<std::uint64_t>::max());
}

TEST(MemoryImage, CapturedFromStopsWhereALaterRangeTakesOver) {
  MemoryImage m;
  m.add(range(0x1000, 0x100, 1));
  m.add(range(0x1080, 0x10, 2));  // added later: read at 0x1080..0x1090
  EXPECT_EQ(m.captured_from(0x1000).size(), 0x80u);
  EXPECT_EQ(m.captured_from(0x1084).size(), 0xcu);
  EXPECT_EQ(m.captured_from(0x1084)[0], '\x02');
  // After the later range, the earlier one is read again, to its end.
  EXPECT_EQ(m.captured_from(0x1090).size(), 0x70u);
  EXPECT_EQ(m.captured_from(0x1090)[0], '\x01');
  EXPECT_EQ(*m.read(0x1088, 1), 2u);
  EXPECT_EQ(*m.read(0x1090, 1), 1u);
}

}  // namespace
}  // namespace mpheap::io
