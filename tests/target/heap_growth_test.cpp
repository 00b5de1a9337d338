// The area py/gc.c's gc_try_add_heap adds when an allocation fails (MicroPython 1.27), on the
// WebAssembly fixture's numbers: a 64,000-byte heap (4000 blocks of 16 bytes, finaliser table,
// 32-byte area records) where bytearray(60000) grew the heap by 63,936 bytes.
#include "mpheap/target/heap_growth.h"

#include <gtest/gtest.h>

namespace mpheap::target {
namespace {

HeapShape wasm_heap() {
  HeapShape h;
  h.block_size = 16;
  h.word_size = 4;
  h.total_blocks = 4000;
  h.area_record_size = 32;
  h.finaliser = true;
  h.max_new_split = 128u * 1024 * 1024;
  return h;
}

TEST(HeapGrowth, TheHeapDoublesForASmallerRequest) {
  HeapGrowth g = heap_growth(wasm_heap(), 60000);
  EXPECT_EQ(g.needed, 62048u);     // + max(2048, 60000 * 13 / 512)
  EXPECT_EQ(g.requested, 65536u);  // 1000 + 500 + 64000 + 1 + 32, rounded up to 16
  EXPECT_EQ(g.min_blocks, 3996u);  // end rounded down by 8 (malloc's 8-byte alignment)
  EXPECT_EQ(g.max_blocks, 4000u);  // snap3's second area: a 16-byte aligned record
  EXPECT_FALSE(g.over_limit);
}

TEST(HeapGrowth, ALargerRequestGetsAnAreaOfItsOwnSize) {
  HeapGrowth g = heap_growth(wasm_heap(), 200000);
  EXPECT_EQ(g.needed, 200000u + 5078u);
  EXPECT_EQ(g.requested, g.needed);
  EXPECT_GE(g.min_blocks * 16, 200000u);
}

TEST(HeapGrowth, ThePortsLimitRefuses) {
  HeapShape h = wasm_heap();
  h.max_new_split = 40000;
  HeapGrowth g = heap_growth(h, 60000);
  EXPECT_TRUE(g.over_limit);
  ASSERT_TRUE(port_heap_facts("webassembly"));
  EXPECT_EQ(port_heap_facts("webassembly")->max_new_split, 128u * 1024 * 1024);
  EXPECT_EQ(port_heap_facts("stm32"), nullptr);
}

}  // namespace
}  // namespace mpheap::target
