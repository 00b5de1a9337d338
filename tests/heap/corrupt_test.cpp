// Damaged dumps: each problem is reported with where it is, and what can still be decoded is.
#include <gtest/gtest.h>

#include "mpheap/heap/snapshot.h"
#include "mpheap/target/from_map.h"
#include "mpheap/target/layout_heuristics.h"
#include "trace/test_util.h"

namespace mpheap::heap {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

class CorruptDump : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = data_path("qemu-microbit/");
    auto t = target::read_map_target(read_file(dir + "firmware.map"), "firmware.map",
                                     read_file(dir + "firmware.nm"), "firmware.nm", "", "");
    ASSERT_TRUE(t);
    target = std::move(*t);
    std::string ram = read_file(dir + "snap2_ram.bin");
    bytes.assign(ram.begin(), ram.end());
    io::MemoryImage whole;
    whole.add(io::MemoryRange{0x20000000, bytes, "snap2_ram.bin"});
    ASSERT_TRUE(target::infer_layout(target, whole, std::nullopt));
  }
  Expected<Snapshot> decode(std::vector<std::uint8_t> b) {
    io::MemoryImage m;
    m.add(io::MemoryRange{0x20000000, std::move(b), "snap2_ram.bin"});
    return decode_snapshot(target, m, 0);
  }
  target::Target target;
  std::vector<std::uint8_t> bytes;
};

TEST_F(CorruptDump, TruncatedInsideThePool) {
  std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + 0x800);  // pool starts at 0x410
  auto s = decode(cut);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->totals.heads, 48u);  // the allocation table is whole: every allocation is known
  ASSERT_EQ(s->diagnostics.size(), 1u);
  EXPECT_EQ(s->diagnostics[0].address, 0x20000870u);  // the first allocation past the cut (0x800)
  EXPECT_NE(s->diagnostics[0].what.find("not captured"), std::string::npos);
  std::size_t typed = 0;
  for (const HeapObject& o : s->objects) typed += o.type_pointer() ? 1 : 0;
  EXPECT_GT(typed, 30u);
}

TEST_F(CorruptDump, TruncatedBeforeTheAllocationTableEnds) {
  std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + 0x340);  // table 0x31c..0x398
  auto s = decode(cut);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().what.find("allocation table 0x2000031c (124 bytes) is not captured"),
            std::string::npos);
}

TEST_F(CorruptDump, TableLengthPastThePool) {
  std::vector<std::uint8_t> bad = bytes;
  // mp_state_ctx.mem.area.gc_alloc_table_byte_len (mp_state_ctx 0x20000010 + 376 + 4).
  std::size_t at = 0x10 + 376 + 4;
  bad[at] = 0xff;
  bad[at + 1] = 0x01;
  auto s = decode(bad);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().what.find("cannot hold the 2044 blocks its allocation table describes"),
            std::string::npos);
}

TEST_F(CorruptDump, TailWithoutHead) {
  std::vector<std::uint8_t> bad = bytes;
  // Find a free block followed by a free block in the table, and mark the second as a tail.
  std::size_t table = 0x31c;
  std::uint64_t block = 0;
  for (std::uint64_t b = 1; b < 496; ++b) {
    auto kind = [&](std::uint64_t x) { return (bad[table + x / 4] >> ((x % 4) * 2)) & 3; };
    if (kind(b - 1) == 0 && kind(b) == 0) {
      block = b;
      break;
    }
  }
  ASSERT_NE(block, 0u);
  bad[table + block / 4] =
      static_cast<std::uint8_t>(bad[table + block / 4] | (2u << ((block % 4) * 2)));
  auto s = decode(bad);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->diagnostics.size(), 1u);
  EXPECT_EQ(s->diagnostics[0].address, 0x20000410u + block * 16);
  EXPECT_NE(s->diagnostics[0].what.find("a tail block with no head before it"), std::string::npos);
  EXPECT_EQ(s->totals.heads, 48u);  // everything else decodes as before
}

}  // namespace
}  // namespace mpheap::heap
