// Interned frames and call stacks: a stack seen a million times costs one index per event.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/util/flat_hash_map.h"

namespace mpheap::trace {

using FrameId = std::uint32_t;
// A call stack as a node of a tree whose root is the outermost frame. 0 is the empty stack.
using StackId = std::uint32_t;
inline constexpr StackId kEmptyStack = 0;

struct Frame {
  // As gdb printed it ("0x0000d898"); "0x0" for inlined frames without one; "" for a Python frame
  // (it has no code address).
  std::string address;
  std::string location;       // "file:line", a library path ("/lib/libc.so.6") or "??"
  std::string function;       // "mp_map_init", "<module>" or "??" ("?? (REASON)" for Python frames)
  bool allocator = false;     // lives in py/gc.c or py/malloc.c (left out of call trees)
  bool wide_address = false;  // printed with more than 8 hex digits (a 64-bit target)
  bool python = false;        // a Python frame (`[py]` in the log): a function of the bytecode
};

class StackTable {
 public:
  StackTable();

  FrameId intern_frame(std::string_view address, std::string_view location,
                       std::string_view function);
  // A Python frame: never equal to a C frame of the same text, never an allocator, no address.
  FrameId intern_python_frame(std::string_view location, std::string_view function);
  // The frame first interned with this return address (its numeric value; 0 never matches).
  [[nodiscard]] std::optional<FrameId> find_by_address(std::string_view address) const;
  // The same by the address's value (gdb::FrameAddress::value).
  [[nodiscard]] std::optional<FrameId> find_by_address_value(std::uint64_t value) const {
    if (value == 0) return std::nullopt;
    return address_index_.find(value);
  }
  // `innermost_first` lists a backtrace as gdb prints it (#1, #2, ...).
  StackId intern_stack(std::span<const FrameId> innermost_first);

  [[nodiscard]] const Frame& frame(FrameId id) const { return frames_[id]; }
  [[nodiscard]] FrameId frame_of(StackId s) const { return nodes_[s].frame; }
  [[nodiscard]] StackId parent(StackId s) const { return nodes_[s].parent; }
  [[nodiscard]] std::uint32_t depth(StackId s) const { return nodes_[s].depth; }
  [[nodiscard]] std::size_t frame_count() const { return frames_.size(); }
  [[nodiscard]] std::size_t stack_count() const { return nodes_.size(); }
  // The innermost frame's function, or "" for the empty stack.
  [[nodiscard]] std::string_view innermost_function(StackId s) const {
    return s == kEmptyStack ? std::string_view{}
                            : std::string_view{frames_[nodes_[s].frame].function};
  }
  // Frames from innermost to outermost.
  [[nodiscard]] std::vector<FrameId> frames_innermost_first(StackId s) const;
  // Approximate heap bytes held by the table (for benchmarks).
  [[nodiscard]] std::size_t memory_bytes() const;

 private:
  struct Node {
    FrameId frame = 0;
    StackId parent = kEmptyStack;
    std::uint32_t depth = 0;
  };
  FrameId intern(std::string_view address, std::string_view location, std::string_view function,
                 bool python);

  std::vector<Frame> frames_;
  std::vector<Node> nodes_;
  FlatHashMap64 frame_index_;  // hash of (address, location, function, python) -> first FrameId
  std::vector<FrameId> frame_chain_;  // next FrameId with the same hash (collisions)
  FlatHashMap64 address_index_;       // return address -> FrameId, for frames with an address
  FlatHashMap64 child_index_;         // (parent << 32 | frame) -> StackId
  // Recently interned stacks by a hash of their frames, checked against the trie before use:
  // most stops repeat a call stack seen before, and one hash beats a lookup per frame.
  static constexpr std::size_t kRecentStacks = 4096;
  std::vector<StackId> recent_stacks_;
};

// True for a source location in MicroPython's allocator (py/gc.c, py/malloc.c).
bool is_allocator_location(std::string_view location);

}  // namespace mpheap::trace
