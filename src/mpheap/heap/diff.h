// The difference between two snapshots of the same heap: objects new in the second, freed since
// the first, and grown or shrunk in place, with counts and bytes by type.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mpheap/heap/snapshot.h"

namespace mpheap::heap {

// One object that differs: for new objects blocks_a is 0 and index_a unused; for freed ones
// blocks_b is 0 and index_b unused.
struct ObjectChange {
  std::uint64_t address = 0;
  std::string type;  // object_type_label() of the object (the class name for classes)
  std::uint64_t blocks_a = 0, blocks_b = 0;
  std::uint32_t index_a = 0, index_b = 0;  // into Snapshot::objects of A and B
};

// Counts and bytes of each category for one type. Resized objects count under grown or shrunk;
// their bytes are the change in size (always positive: shrunk_bytes is what they gave back).
struct TypeChange {
  std::string type;
  std::uint64_t new_objects = 0, new_bytes = 0;
  std::uint64_t freed_objects = 0, freed_bytes = 0;
  std::uint64_t grown_objects = 0, grown_bytes = 0;
  std::uint64_t shrunk_objects = 0, shrunk_bytes = 0;
  // new - freed + grown - shrunk
  [[nodiscard]] std::int64_t net_bytes() const {
    return static_cast<std::int64_t>(new_bytes + grown_bytes) -
           static_cast<std::int64_t>(freed_bytes + shrunk_bytes);
  }
};

struct SnapshotDiff {
  std::uint32_t block_size = 16;
  std::vector<ObjectChange> added;    // in B only, in B's address order
  std::vector<ObjectChange> freed;    // in A only, in A's address order
  std::vector<ObjectChange> resized;  // same address and type, other block count
  std::uint64_t unchanged_objects = 0;
  std::vector<TypeChange> by_type;       // sorted by |net bytes| (largest first), then name
  TypeChange total;                      // the sums over all types (type is "")
  std::uint64_t used_a = 0, used_b = 0;  // HeapTotals::used of each snapshot, bytes
  [[nodiscard]] std::int64_t used_delta() const {
    return static_cast<std::int64_t>(used_b) - static_cast<std::int64_t>(used_a);
  }
};

// Objects are the same when they start at the same address and have the same type; an address
// reused by an object of another type is a freed object plus a new one. Type both snapshots
// the same way (name_instance_types, label_headerless_blocks) before comparing them.
SnapshotDiff diff_snapshots(const Snapshot& a, const Snapshot& b, std::uint32_t block_size);

}  // namespace mpheap::heap
