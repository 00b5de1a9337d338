// Classification and lifespans: by caller where the trace shows it, else by block state;
// unlogged ends when blocks believed live are reused.
#include "mpheap/trace/replay.h"

#include <gtest/gtest.h>

namespace mpheap::trace {
namespace {

class ReplayTest : public ::testing::Test {
 protected:
  StackId stack(const char* caller) {
    FrameId outer = stacks.intern_frame("0x100", "main.c:10", "main");
    if (caller == nullptr) return stacks.intern_stack(std::vector<FrameId>{outer});
    FrameId inner = stacks.intern_frame("0x200", "../../py/gc.c:900", caller);
    return stacks.intern_stack(std::vector<FrameId>{inner, outer});
  }
  ReplayStep apply(std::uint64_t start, std::uint64_t length, const char* caller) {
    ended.clear();
    return replay.apply(GcEvent{start, length, std::nullopt, stack(caller), 0, std::nullopt},
                        time++, ended);
  }

  StackTable stacks;
  Replay replay{stacks};
  std::vector<EndedAllocation> ended;
  std::uint64_t time = 0;
};

// A stack without the caller (the Python-only view) is classified by the caller the event
// names, not by its innermost kept frame.
TEST_F(ReplayTest, ClassifiesByTheEventsCallerNotTheViewsInnermostFrame) {
  FrameId gc_free = stacks.intern_frame("0x200", "../../py/gc.c:900", "gc_free");
  FrameId module = stacks.intern_python_frame("workload.py:29", "<module>");
  StackId python_stack = stacks.intern_stack(std::vector<FrameId>{module});
  EXPECT_EQ(apply(4, 2, nullptr).kind, EventKind::alloc);
  ended.clear();
  auto step = replay.apply(GcEvent{4, 0, std::nullopt, python_stack, 0, gc_free}, time++, ended);
  EXPECT_EQ(step.kind, EventKind::free);
  EXPECT_TRUE(step.by_caller);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end_stack, python_stack);
  // Without it, the innermost frame of the stack says nothing and the block state decides.
  EXPECT_EQ(apply(6, 1, nullptr).kind, EventKind::alloc);
  ended.clear();
  auto by_state =
      replay.apply(GcEvent{6, 0, std::nullopt, python_stack, 0, std::nullopt}, time++, ended);
  EXPECT_FALSE(by_state.by_caller);
}

TEST_F(ReplayTest, ClassifiesByCaller) {
  EXPECT_EQ(apply(0, 2, "gc_alloc").kind, EventKind::alloc);
  EXPECT_EQ(apply(2, 1, "gc_alloc_with_finaliser").kind, EventKind::alloc);
  auto grow = apply(0, 3, "gc_realloc");
  EXPECT_EQ(grow.kind, EventKind::realloc);
  // Growing over block 2 ends the allocation there: it was freed without a log entry.
  ASSERT_EQ(ended.size(), 2u);
  EXPECT_EQ(ended[0].cause, EndCause::realloc);
  EXPECT_EQ(ended[1].cause, EndCause::unlogged);
  EXPECT_EQ(ended[1].allocation.start_block, 2u);
  EXPECT_EQ(replay.unlogged(), 1u);
  EXPECT_EQ(replay.live_blocks(), 3u);
  auto sweep = apply(0, 0, "gc_sweep_free_blocks");
  EXPECT_EQ(sweep.kind, EventKind::sweep);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].cause, EndCause::sweep);
  EXPECT_EQ(ended[0].allocation.size, 3u);
  EXPECT_EQ(ended[0].allocation.start_time, 2u);
  EXPECT_EQ(ended[0].end_time, 3u);
  EXPECT_EQ(replay.live_blocks(), 0u);
}

TEST_F(ReplayTest, FallsBackToBlockStateWithoutCaller) {
  EXPECT_EQ(apply(5, 2, nullptr).kind, EventKind::alloc);
  auto r = apply(5, 4, nullptr);
  EXPECT_EQ(r.kind, EventKind::realloc);
  EXPECT_FALSE(r.by_caller);
  EXPECT_EQ(apply(5, 0, nullptr).kind, EventKind::free);
  auto unmatched = apply(5, 0, nullptr);
  EXPECT_TRUE(unmatched.unmatched);
  EXPECT_EQ(replay.unmatched(), 1u);
}

TEST_F(ReplayTest, AllocationOverLiveBlocksEndsThemUnlogged) {
  // CircuitPython does not log its sweep: block 10 is collected and handed out again.
  apply(10, 4, "gc_alloc");
  apply(20, 1, "gc_alloc");
  auto r = apply(12, 9, "gc_alloc");    // covers blocks 12..20
  EXPECT_EQ(r.kind, EventKind::alloc);  // by caller, not a realloc as gc_activity.py says
  ASSERT_EQ(ended.size(), 2u);
  EXPECT_EQ(ended[0].allocation.start_block, 10u);
  EXPECT_EQ(ended[1].allocation.start_block, 20u);
  EXPECT_EQ(ended[0].cause, EndCause::unlogged);
  EXPECT_EQ(ended[0].end_stack, kEmptyStack);
  EXPECT_EQ(replay.live_allocations(), 1u);
  EXPECT_EQ(replay.live_blocks(), 9u);
}

TEST_F(ReplayTest, CallerContradictingLengthIsNotTrusted) {
  EXPECT_FALSE(kind_from_caller("gc_free", 3));
  EXPECT_FALSE(kind_from_caller("gc_alloc", 0));
  EXPECT_EQ(kind_from_caller("gc_collect_end", 0), EventKind::sweep);
  EXPECT_FALSE(kind_from_caller("mp_obj_new_list", 2));
}

TEST_F(ReplayTest, LiveBlocksByStack) {
  StackId s = stack("gc_alloc");
  apply(0, 2, "gc_alloc");
  apply(2, 3, "gc_alloc");
  apply(0, 0, "gc_free");
  EXPECT_EQ(replay.live_blocks_by_stack()[s], 3);
}

}  // namespace
}  // namespace mpheap::trace
