// Call-tree construction: a trie over filtered frames, outermost first.
#include "mpheap/trace/call_tree.h"

#include <algorithm>
#include <map>
#include <memory>
#include <tuple>
#include <utility>

namespace mpheap::trace {
namespace {

struct BuildNode {
  std::uint64_t blocks = 0;
  // (location, function, python): a Python frame never merges with a C frame of the same text.
  std::map<std::tuple<std::string_view, std::string_view, bool>, std::unique_ptr<BuildNode>>
      children;
};

void convert(const BuildNode& in, std::vector<CallTreeNode>& out) {
  out.reserve(in.children.size());
  for (const auto& [key, child] : in.children) {  // std::map: already sorted
    CallTreeNode n{std::string(std::get<0>(key)),
                   std::string(std::get<1>(key)),
                   std::get<2>(key),
                   child->blocks,
                   {}};
    convert(*child, n.children);
    out.push_back(std::move(n));
  }
}

template <typename Weight>
CallTree build(const StackTable& stacks, std::span<const Weight> weights) {
  BuildNode root;
  std::vector<FrameId> path;
  for (std::size_t s = 0; s < weights.size() && s < stacks.stack_count(); ++s) {
    if (weights[s] <= 0) continue;
    auto w = static_cast<std::uint64_t>(weights[s]);
    path.clear();
    for (StackId n = static_cast<StackId>(s); n != kEmptyStack; n = stacks.parent(n)) {
      FrameId f = stacks.frame_of(n);
      if (!stacks.frame(f).allocator) path.push_back(f);
    }
    root.blocks += w;
    BuildNode* node = &root;
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      const Frame& f = stacks.frame(*it);
      auto& child = node->children[{f.location, f.function, f.python}];
      if (!child) child = std::make_unique<BuildNode>();
      child->blocks += w;
      node = child.get();
    }
  }
  CallTree tree;
  tree.total_blocks = root.blocks;
  convert(root, tree.roots);
  return tree;
}

}  // namespace

CallTree build_call_tree(const StackTable& stacks, std::span<const std::int64_t> weight_by_stack) {
  return build(stacks, weight_by_stack);
}

CallTree build_call_tree(const StackTable& stacks, std::span<const std::uint64_t> weight_by_stack) {
  return build(stacks, weight_by_stack);
}

}  // namespace mpheap::trace
