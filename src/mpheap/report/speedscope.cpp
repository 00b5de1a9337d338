// A call tree as a speedscope sampled profile: the same paths and self weights as the folded
// output (folded_stacks), with frames split into name, file and line.
#include "mpheap/report/speedscope.h"

#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

namespace mpheap::report {
namespace {

using nlohmann::ordered_json;

class ProfileBuilder {
 public:
  explicit ProfileBuilder(std::uint64_t scale) : scale_(scale) {}

  void walk(const std::vector<trace::CallTreeNode>& nodes) {
    for (const trace::CallTreeNode& n : nodes) {
      if (n.blocks == 0) continue;
      path_.push_back(frame_index(n.function, n.location));
      std::uint64_t below = 0;
      for (const auto& c : n.children) below += c.blocks;
      if (n.blocks > below) add_sample(path_, n.blocks - below);
      walk(n.children);
      path_.pop_back();
    }
  }

  void add_sample(const std::vector<std::size_t>& stack, std::uint64_t blocks) {
    samples_.push_back(stack);
    weights_.push_back(blocks * scale_);
    total_ += blocks * scale_;
  }

  std::size_t frame_index(const std::string& function, const std::string& location) {
    auto [it, added] = index_.try_emplace({function, location}, frames_.size());
    if (added) {
      ordered_json f{{"name", function}};
      // "file:line" gives file and line; "??" and library paths stay as the file.
      std::string_view loc = location;
      auto colon = loc.rfind(':');
      std::uint64_t line = 0;
      if (colon != std::string_view::npos && colon + 1 < loc.size()) {
        auto [p, ec] = std::from_chars(loc.data() + colon + 1, loc.data() + loc.size(), line);
        if (ec == std::errc() && p == loc.data() + loc.size()) {
          f["file"] = std::string(loc.substr(0, colon));
          f["line"] = line;
        } else {
          f["file"] = location;
        }
      } else if (!loc.empty()) {
        f["file"] = location;
      }
      frames_.push_back(std::move(f));
    }
    return it->second;
  }

  ordered_json frames_;
  std::vector<std::vector<std::size_t>> samples_;
  std::vector<std::uint64_t> weights_;
  std::uint64_t total_ = 0;

 private:
  std::uint64_t scale_;
  std::vector<std::size_t> path_;
  std::map<std::pair<std::string, std::string>, std::size_t> index_;
};

}  // namespace

std::string speedscope_json(const trace::CallTree& tree, const SpeedscopeOptions& options) {
  ProfileBuilder b(options.block_size.value_or(1));
  b.frames_ = ordered_json::array();
  b.walk(tree.roots);
  std::uint64_t below = 0;
  for (const auto& c : tree.roots) below += c.blocks;
  // Blocks whose stacks lie wholly inside the allocator (or that have no stack) stay visible.
  if (tree.total_blocks > below)
    b.add_sample({b.frame_index("[no stack]", "")}, tree.total_blocks - below);

  ordered_json samples = ordered_json::array();
  for (const auto& s : b.samples_) samples.push_back(s);
  ordered_json profile{
      {"type", "sampled"},
      {"name", options.block_size ? options.name + " (bytes)" : options.name + " (blocks)"},
      // speedscope has no unit for blocks: "none" with the name saying what the weight counts.
      {"unit", options.block_size ? "bytes" : "none"},
      {"startValue", 0},
      {"endValue", b.total_},
      {"samples", std::move(samples)},
      {"weights", b.weights_}};
  ordered_json j{{"$schema", "https://www.speedscope.app/file-format-schema.json"},
                 {"shared", {{"frames", std::move(b.frames_)}}},
                 {"profiles", ordered_json::array({std::move(profile)})},
                 {"name", options.name},
                 {"activeProfileIndex", 0},
                 {"exporter", options.exporter}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace mpheap::report
