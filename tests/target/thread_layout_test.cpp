// mp_state_thread_t's order by version (py/mpstate.h at v1.9, v1.10, v1.19 and v1.28): where
// mp_state_ctx starts and thread.stack_top lies around the dict_locals/dict_globals pair.
#include "mpheap/target/thread_layout.h"

#include <gtest/gtest.h>

#include <vector>

namespace mpheap::target {
namespace {

constexpr std::uint64_t kBase = 0x20000000;
constexpr std::uint64_t kDictMain = 0x20000100;  // vm.dict_main, embedded
constexpr std::pair<std::uint64_t, std::uint64_t> kTops = {0x20002000,
                                                           0x20004000};  // above the heap

io::MemoryImage words(const std::vector<std::uint32_t>& w) {
  io::MemoryRange r;
  r.address = kBase;
  r.source = "test";
  for (std::uint32_t v : w)
    for (int b = 0; b < 4; ++b) r.bytes.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
  io::MemoryImage m;
  m.add(std::move(r));
  return m;
}

TEST(ThreadLayout, VersionsPickTheirOrder) {
  EXPECT_EQ(thread_order_for(std::pair{1, 9})->order, ThreadOrder::dicts_first);
  EXPECT_EQ(thread_order_for(std::pair{1, 10})->order, ThreadOrder::stack_top_first);
  EXPECT_EQ(thread_order_for(std::pair{1, 28})->order, ThreadOrder::stack_top_first);
  EXPECT_EQ(thread_order_for(std::nullopt), nullptr);
}

TEST(ThreadLayout, DictsFirstIn19) {
  // dict_locals, dict_globals, nlr_top, stack_top (Debian's micro:bit 1.9.2).
  auto m = words({kDictMain, kDictMain, 0, 0x20004000, 0});
  io::WordReader r{m, 4, true};
  for (auto version :
       {std::optional<std::pair<int, int>>{{1, 9}}, std::optional<std::pair<int, int>>{}}) {
    auto s = find_thread_start(r, kBase, std::nullopt, version, kTops);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->mp_state_ctx, kBase);
    EXPECT_EQ(s->stack_top_offset, 12u);
  }
}

TEST(ThreadLayout, StackTopFirstSince110) {
  // 1.28 with MICROPY_STACK_CHECK and MICROPY_ENABLE_PYSTACK: stack_top, stack_limit,
  // pystack_start, _end, _cur, gc_lock_depth, dict_locals, dict_globals.
  auto m = words({0x20003ff0, 0x1800, 0x20001000, 0x20001400, 0x20001010, 0, kDictMain, kDictMain});
  io::WordReader r{m, 4, true};
  const std::uint64_t dict_locals = kBase + 6 * 4;
  for (auto version :
       {std::optional<std::pair<int, int>>{{1, 28}}, std::optional<std::pair<int, int>>{}}) {
    auto s = find_thread_start(r, dict_locals, std::nullopt, version, kTops);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->mp_state_ctx, kBase) << "not 24 bytes on, at dict_locals (1.9's rule)";
    EXPECT_EQ(s->stack_top_offset, 0u);
  }
  // With mp_state_ctx's symbol: the same answer, and a pair too far from it is not this order.
  auto known = find_thread_start(r, dict_locals, kBase, std::nullopt, kTops);
  ASSERT_TRUE(known);
  EXPECT_EQ(known->stack_top_offset, 0u);
  EXPECT_FALSE(find_thread_start(r, kBase + 7 * 4, kBase - 8 * 4, std::pair{1, 28}, kTops));
}

TEST(ThreadLayout, ThePystackPlacesStackTopWhereverTheStackIs) {
  // The WebAssembly port 1.27: no stack_limit, stack_top 0x8000 (its C stack lies below the data,
  // not above the heap), then the pystack. No word there is a stack top above the heap: the old
  // rule found no start and used dict_locals, 20 bytes on. (Had the word before stack_top been
  // one, it would be read as stack_top with 0x8000 as stack_limit: the words alone cannot tell.)
  auto m = words({0xffec, 0x8000, 0x20001000, 0x20001400, 0x20001030, 0, kDictMain, kDictMain});
  io::WordReader r{m, 4, true};
  const std::uint64_t dict_locals = kBase + 6 * 4;
  auto s = find_thread_start(r, dict_locals, std::nullopt, std::pair{1, 27}, kTops);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->mp_state_ctx, kBase + 4);
  EXPECT_EQ(s->stack_top_offset, 0u);
  EXPECT_EQ(s->pystack_offset, 4u);
  // Pointers that are not start <= cur <= end are no pystack: the old search applies.
  auto bad =
      words({0x20003000, 0x8000, 0x20001400, 0x20001000, 0x20001030, 0, kDictMain, kDictMain});
  io::WordReader rb{bad, 4, true};
  auto o = find_thread_start(rb, dict_locals, std::nullopt, std::pair{1, 27}, kTops);
  ASSERT_TRUE(o);
  EXPECT_FALSE(o->pystack_offset);
}

TEST(ThreadLayout, NoStackTopNoStart) {
  // 1.28 order but nothing before the pair looks like a stack top: not guessed.
  auto m = words({0, 0x1800, 0, kDictMain, kDictMain});
  io::WordReader r{m, 4, true};
  EXPECT_FALSE(find_thread_start(r, kBase + 3 * 4, std::nullopt, std::pair{1, 28}, kTops));
}

}  // namespace
}  // namespace mpheap::target
