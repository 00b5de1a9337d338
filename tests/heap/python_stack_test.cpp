// Stack roots named after the Python frames whose state holds them, and the root a path is
// named after (heap/python_stack, heap/graph preferred_root).
#include "mpheap/heap/python_stack.h"

#include <gtest/gtest.h>

#include "mpheap/heap/graph.h"

namespace mpheap::heap {
namespace {

TEST(PythonStackRoots, SlotsInAFramesStateNameTheFunctionOthersKeepTheirOffsets) {
  PythonStack stack;
  PythonFrame f;
  f.function = "__init__";
  f.file = "workload.py";
  f.line = 22;
  f.state = 0x1000;
  f.n_state = 4;  // state[3] is local 0, the first argument
  f.arg_names = {"self"};
  stack.frames.push_back(f);
  PythonFrame unnamed;
  unnamed.missing = "function object 0x2000 not readable";
  unnamed.state = 0x1100;
  unnamed.n_state = 2;
  stack.frames.push_back(unnamed);

  ObjectGraph g;
  g.roots = {{0x100c, 1, 0, "stack+0xc", true},
             {0x1004, 1, 0, "stack+0x4", true},
             {0x1100, 1, 0, "stack+0x100", true},
             {0x1010, 1, 0, "stack+0x10", true},
             {0x1008, 1, 0, "mp_state_ctx+8", false}};
  EXPECT_EQ(name_python_frame_roots(g, stack, 4), 3u);
  EXPECT_EQ(g.roots[0].name, "argument `self` of `__init__` (workload.py:22)");
  EXPECT_EQ(g.roots[1].name, "a local or temporary of `__init__` (workload.py:22)");
  EXPECT_EQ(g.roots[2].name,
            "a local or temporary of a Python function not named (function object 0x2000 not "
            "readable)");
  EXPECT_EQ(g.roots[3].name, "stack+0x10");  // past state[n_state)
  EXPECT_FALSE(g.roots[3].python_frame);
  EXPECT_FALSE(g.roots[4].python_frame);  // not a stack word: never renamed
  EXPECT_EQ(g.roots[4].name, "mp_state_ctx+8");

  // A static slot first, then a Python frame's slot, a register, a bare stack offset.
  g.roots.push_back({0, 1, 0, "register r4"});
  const std::vector<std::uint32_t> all = {5, 3, 1, 4};
  EXPECT_EQ(preferred_root(g, all), 4u);
  const std::vector<std::uint32_t> no_static = {5, 3, 1};
  EXPECT_EQ(preferred_root(g, no_static), 1u);
  const std::vector<std::uint32_t> bare = {3, 5};
  EXPECT_EQ(preferred_root(g, bare), 5u);
}

}  // namespace
}  // namespace mpheap::heap
