// Frame and call-stack interning.
#include "mpheap/trace/stack_table.h"

#include "mpheap/util/hash.h"

namespace mpheap::trace {
namespace {

std::uint64_t frame_hash(std::string_view a, std::string_view l, std::string_view f, bool python) {
  std::uint64_t h = hash_bytes(f, hash_bytes(l, hash_bytes(a)));
  return python ? hash_bytes("[py]", h) : h;
}

bool ends_with_path(std::string_view file, std::string_view tail) {
  if (!file.ends_with(tail)) return false;
  if (file.size() == tail.size()) return true;
  char c = file[file.size() - tail.size() - 1];
  return c == '/' || c == '\\';
}

constexpr std::uint32_t kNoFrame = 0xffffffffU;

// The numeric value of "0x..." (0 when not hex or longer than 16 digits).
std::uint64_t address_value(std::string_view address) {
  if (!address.starts_with("0x") || address.size() > 18) return 0;
  std::uint64_t v = 0;
  for (char c : address.substr(2)) {
    unsigned d = c >= '0' && c <= '9'   ? unsigned(c - '0')
                 : c >= 'a' && c <= 'f' ? unsigned(c - 'a' + 10)
                 : c >= 'A' && c <= 'F' ? unsigned(c - 'A' + 10)
                                        : 16u;
    if (d > 15) return 0;
    v = (v << 4) | d;
  }
  return v;
}

}  // namespace

bool is_allocator_location(std::string_view location) {
  auto colon = location.rfind(':');
  std::string_view file = colon == std::string_view::npos ? location : location.substr(0, colon);
  return ends_with_path(file, "py/gc.c") || ends_with_path(file, "py/malloc.c");
}

StackTable::StackTable() : recent_stacks_(kRecentStacks, kEmptyStack) {
  nodes_.push_back(Node{});
}

FrameId StackTable::intern_frame(std::string_view address, std::string_view location,
                                 std::string_view function) {
  return intern(address, location, function, false);
}

FrameId StackTable::intern_python_frame(std::string_view location, std::string_view function) {
  return intern("", location, function, true);
}

FrameId StackTable::intern(std::string_view address, std::string_view location,
                           std::string_view function, bool python) {
  std::uint64_t h = frame_hash(address, location, function, python);
  auto first = frame_index_.find(h);
  if (first) {
    for (FrameId id = *first; id != kNoFrame; id = frame_chain_[id]) {
      const Frame& f = frames_[id];
      if (f.python == python && f.address == address && f.location == location &&
          f.function == function)
        return id;
    }
  }
  auto id = static_cast<FrameId>(frames_.size());
  Frame f{std::string(address),
          std::string(location),
          std::string(function),
          !python && is_allocator_location(location),
          false,
          python};
  std::string_view digits = address.starts_with("0x") ? address.substr(2) : address;
  f.wide_address = !python && digits.size() > 8;
  frames_.push_back(std::move(f));
  if (std::uint64_t value = address_value(address); value != 0) address_index_.insert(value, id);
  if (first) {
    // Chain the new frame behind the existing ones with the same hash.
    FrameId last = *first;
    while (frame_chain_[last] != kNoFrame) last = frame_chain_[last];
    frame_chain_.push_back(kNoFrame);
    frame_chain_[last] = id;
  } else {
    frame_chain_.push_back(kNoFrame);
    frame_index_.insert(h, id);
  }
  return id;
}

std::optional<FrameId> StackTable::find_by_address(std::string_view address) const {
  std::uint64_t value = address_value(address);
  if (value == 0) return std::nullopt;
  return address_index_.find(value);
}

StackId StackTable::intern_stack(std::span<const FrameId> innermost_first) {
  std::uint64_t h = innermost_first.size();
  for (FrameId f : innermost_first) h = (h ^ f) * 0x9e3779b97f4a7c15ULL;
  StackId& recent = recent_stacks_[(h ^ (h >> 29)) & (kRecentStacks - 1)];
  if (recent != kEmptyStack && nodes_[recent].depth == innermost_first.size()) {
    StackId s = recent;
    std::size_t i = 0;
    while (i < innermost_first.size() && nodes_[s].frame == innermost_first[i]) {
      s = nodes_[s].parent;
      ++i;
    }
    if (i == innermost_first.size()) return recent;
  }
  StackId node = kEmptyStack;
  for (auto it = innermost_first.rbegin(); it != innermost_first.rend(); ++it) {
    std::uint64_t key = (static_cast<std::uint64_t>(node) << 32) | *it;
    auto found = child_index_.find(key);
    if (found) {
      node = *found;
      continue;
    }
    auto id = static_cast<StackId>(nodes_.size());
    nodes_.push_back(Node{*it, node, nodes_[node].depth + 1});
    child_index_.insert(key, id);
    node = id;
  }
  recent = node;
  return node;
}

std::vector<FrameId> StackTable::frames_innermost_first(StackId s) const {
  std::vector<FrameId> out;
  out.reserve(nodes_[s].depth);
  for (; s != kEmptyStack; s = nodes_[s].parent) out.push_back(nodes_[s].frame);
  return out;
}

std::size_t StackTable::memory_bytes() const {
  std::size_t n = frames_.capacity() * sizeof(Frame) + nodes_.capacity() * sizeof(Node) +
                  frame_chain_.capacity() * sizeof(FrameId) +
                  recent_stacks_.capacity() * sizeof(StackId) +
                  (frame_index_.size() + child_index_.size()) * 32;
  for (const Frame& f : frames_)
    n += f.address.capacity() + f.location.capacity() + f.function.capacity();
  return n;
}

}  // namespace mpheap::trace
