// Snapshot differences on the fixtures: the micro:bit run before and after its workload, and
// the split heap before and after the collection that frees the dropped BLOBS.
#include "mpheap/heap/diff.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "heap/snapshot_fixture.h"
#include "mpheap/heap/objects.h"
#include "mpheap/report/heap_diff.h"
#include "mpheap/target/from_map.h"
#include "mpheap/target/layout_heuristics.h"
#include "trace/test_util.h"

namespace mpheap::heap {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

using Loaded = mpheap::testing::FixtureSnapshot;

// Typed as the CLI types it (class names and header-less blocks feed the identity).
Loaded load(const std::string& dir, const std::string& qstrs, const std::string& dump) {
  return mpheap::testing::load_fixture_snapshot(dir, true, qstrs, {dump}, /*typed=*/true);
}

Loaded microbit(int n) {
  return load("qemu-microbit", "qstr_static.txt",
              "snap" + std::to_string(n) + "_ram.bin@0x20000000");
}
Loaded splitheap(int n) {
  return load("qemu-mps2-splitheap", "rom_qstrs.txt",
              "snap" + std::to_string(n) + "_ram.bin@0x187454");
}

const ObjectChange* find(const std::vector<ObjectChange>& v, std::uint64_t address) {
  auto it = std::find_if(v.begin(), v.end(), [&](auto& c) { return c.address == address; });
  return it == v.end() ? nullptr : &*it;
}

const TypeChange* type_change(const SnapshotDiff& d, const std::string& type) {
  auto it = std::find_if(d.by_type.begin(), d.by_type.end(),
                         [&](const TypeChange& c) { return c.type == type; });
  return it == d.by_type.end() ? nullptr : &*it;
}

// Every allocated block belongs to an object, so the categories add up to the used change,
// per type and in total.
void check_sums(const SnapshotDiff& d, const Snapshot& a, const Snapshot& b) {
  EXPECT_EQ(d.total.net_bytes(), d.used_delta());
  TypeChange sum;
  for (const TypeChange& c : d.by_type) {
    sum.new_objects += c.new_objects;
    sum.new_bytes += c.new_bytes;
    sum.freed_objects += c.freed_objects;
    sum.freed_bytes += c.freed_bytes;
    sum.grown_bytes += c.grown_bytes;
    sum.shrunk_bytes += c.shrunk_bytes;
  }
  EXPECT_EQ(sum.new_objects, d.added.size());
  EXPECT_EQ(sum.freed_objects, d.freed.size());
  EXPECT_EQ(sum.net_bytes(), d.used_delta());
  // Each object of A is freed, resized or unchanged; each of B new, resized or unchanged.
  EXPECT_EQ(d.freed.size() + d.resized.size() + d.unchanged_objects, a.objects.size());
  EXPECT_EQ(d.added.size() + d.resized.size() + d.unchanged_objects, b.objects.size());
}

TEST(SnapshotDiff, MicrobitWorkload) {
  Loaded a = microbit(1), b = microbit(2);
  const SnapshotDiff d = diff_snapshots(a.snap, b.snap, 16);
  EXPECT_EQ(d.used_a, 1424u);  // README: mem_info used 1424 -> 1568
  EXPECT_EQ(d.used_b, 1568u);
  EXPECT_EQ(d.used_delta(), 144);
  check_sums(d, a.snap, b.snap);

  const ObjectChange* keep = find(d.added, 0x200004b0);  // KEEP exists only in snap2
  ASSERT_NE(keep, nullptr);
  EXPECT_EQ(keep->type, "list");
  EXPECT_EQ(keep->blocks_a, 0u);
  EXPECT_GT(keep->blocks_b, 0u);
  for (std::uint64_t same :
       {0x20000430u /* GREETING */, 0x20000490u /* CONFIG */, 0x200004c0u /* GREETING's bytes */}) {
    EXPECT_EQ(find(d.added, same), nullptr) << std::hex << same;
    EXPECT_EQ(find(d.freed, same), nullptr) << std::hex << same;
    EXPECT_EQ(find(d.resized, same), nullptr) << std::hex << same;
  }
  // The globals table moved: 0x200007e0 in snap1 (alloc 17), 0x20000a30 in snap2 (alloc 23).
  const ObjectChange* old_globals = find(d.freed, 0x200007e0);
  ASSERT_NE(old_globals, nullptr);
  EXPECT_EQ(old_globals->type, "dict table");
  const ObjectChange* new_globals = find(d.added, 0x20000a30);
  ASSERT_NE(new_globals, nullptr);
  EXPECT_EQ(new_globals->type, "dict table");
  const TypeChange* lists = type_change(d, "list");
  ASSERT_NE(lists, nullptr);
  EXPECT_GE(lists->new_objects, 1u);

  const std::string text = report::diff_text(d, 16);
  EXPECT_NE(text.find("used: 1424 -> 1568 bytes (+144)"), std::string::npos) << text;
  EXPECT_NE(text.find("0x200004b0"), std::string::npos) << text;
  EXPECT_NE(text.find("by type:"), std::string::npos) << text;
}

TEST(SnapshotDiff, SameSnapshotIsEmpty) {
  Loaded a = microbit(2);
  const SnapshotDiff d = diff_snapshots(a.snap, a.snap, 16);
  EXPECT_TRUE(d.added.empty());
  EXPECT_TRUE(d.freed.empty());
  EXPECT_TRUE(d.resized.empty());
  EXPECT_TRUE(d.by_type.empty());
  EXPECT_EQ(d.unchanged_objects, a.snap.objects.size());
  EXPECT_EQ(d.used_delta(), 0);
}

TEST(SnapshotDiff, SplitHeapCollectionFreesBlobs) {
  // snap2 -> snap3: the collection frees the 100 dropped bytearrays and their 100-byte data,
  // 47792 -> 34992 used bytes = 100 * (16 + 112).
  Loaded a = splitheap(2), b = splitheap(3);
  const SnapshotDiff d = diff_snapshots(a.snap, b.snap, 16);
  EXPECT_EQ(d.used_a, 47792u);
  EXPECT_EQ(d.used_b, 34992u);
  EXPECT_EQ(d.used_delta(), -12800);
  check_sums(d, a.snap, b.snap);
  EXPECT_EQ(d.total.new_bytes + d.total.grown_bytes, 0u);  // a collection only frees
  EXPECT_EQ(d.total.freed_bytes, 12800u);
  EXPECT_EQ(d.total.freed_objects, 200u);

  const TypeChange* arrays = type_change(d, "bytearray");
  ASSERT_NE(arrays, nullptr);
  EXPECT_EQ(arrays->freed_objects, 100u);
  EXPECT_EQ(arrays->freed_bytes, 1600u);
  // In snap2 the dropped bytearrays still point at their data, which is labelled by them.
  const TypeChange* data = type_change(d, "bytearray data");
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->freed_objects, 100u);
  EXPECT_EQ(data->freed_bytes, 11200u);
  // Named objects stay: GREETING, CONFIG, BLOBS and its items array, BIG.
  for (std::uint64_t same : {0x187a90u, 0x187af0u, 0x187b80u, 0x18c090u, 0x18e950u}) {
    EXPECT_EQ(find(d.freed, same), nullptr) << std::hex << same;
    EXPECT_EQ(find(d.resized, same), nullptr) << std::hex << same;
  }
  for (const ObjectChange& c : d.freed)
    if (c.type == "bytearray") {
      EXPECT_EQ(c.blocks_a, 1u);
    }

  const std::string text = report::diff_text(d, 16);
  EXPECT_NE(text.find("used: 47792 -> 34992 bytes (-12800)"), std::string::npos) << text;
  EXPECT_NE(text.find("bytearray"), std::string::npos) << text;
}

}  // namespace
}  // namespace mpheap::heap
