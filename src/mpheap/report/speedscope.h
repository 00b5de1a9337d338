// speedscope's JSON file format (https://www.speedscope.app/file-format-schema.json): one
// "sampled" profile whose samples are the call stacks of a call tree, weighted by blocks
// (live or ever allocated) or by bytes when the block size is known.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mpheap/trace/call_tree.h"

namespace mpheap::report {

struct SpeedscopeOptions {
  std::string name;                         // the profile's name ("live blocks after event 316")
  std::optional<std::uint64_t> block_size;  // bytes per block: weights in bytes; else in blocks
  std::string exporter = "mpheap";
};

// Every path of the tree with blocks of its own becomes one sample (frames outermost first);
// blocks whose stack lies wholly in the allocator are a "[no stack]" sample, as in the folded
// output. The weights add up to tree.total_blocks (times the block size).
std::string speedscope_json(const trace::CallTree& tree, const SpeedscopeOptions& options);

}  // namespace mpheap::report
