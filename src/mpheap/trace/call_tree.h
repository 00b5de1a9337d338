// The tree of call sites by live (or allocated) blocks, built from per-stack weights.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mpheap/trace/stack_table.h"

namespace mpheap::trace {

struct CallTreeNode {
  std::string location;  // "file:line"
  std::string function;
  bool python = false;                 // a Python frame (Frame::python)
  std::uint64_t blocks = 0;            // this frame and everything it called
  std::vector<CallTreeNode> children;  // sorted by (location, function, python)
};

struct CallTree {
  std::vector<CallTreeNode> roots;
  std::uint64_t total_blocks = 0;
};

// Frames in py/gc.c and py/malloc.c are left out; stacks with weight <= 0 are skipped.
CallTree build_call_tree(const StackTable& stacks, std::span<const std::int64_t> weight_by_stack);
CallTree build_call_tree(const StackTable& stacks, std::span<const std::uint64_t> weight_by_stack);

}  // namespace mpheap::trace
