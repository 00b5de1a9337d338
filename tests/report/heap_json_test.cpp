// `mpheap heap --json`'s retainer paths stay linear in a chain's length: past kHeldByHops hops a
// path starts at an ancestor's (`held_by_from`), and following those ancestors spells the
// whole path.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "mpheap/report/heap_report.h"

namespace mpheap::report {
namespace {

TEST(HeapJson, DeepChainsAreWrittenFromAnchors) {
  // A linked list of 200 nodes under one global: node i holds node i + 1 in its item 1.
  constexpr std::uint32_t kNodes = 200;
  heap::Snapshot s;
  target::Target t;
  t.block_size = 16;
  SnapshotSummary summary;
  summary.label = "\x01objects\" \"objects\": ";  // looks like the placeholder: never matched
  summary.strings = {"", "mp_state_ctx.vm.dict_main['CHAIN']", "[1]"};
  std::string whole = "mp_state_ctx.vm.dict_main['CHAIN']";
  std::vector<std::string> expected;
  // Object `i`: one block at block i, in the snapshot and in its summary.
  auto add = [&](std::uint32_t i) -> SnapshotObject& {
    heap::HeapObject o;
    o.address = 0x1000 + 16 * i;
    o.block = i;
    o.blocks = 1;
    s.objects.push_back(o);
    SnapshotObject& m = summary.objects.emplace_back();
    m.block = i;
    m.blocks = 1;
    return m;
  };
  for (std::uint32_t i = 0; i < kNodes; ++i) {
    SnapshotObject& m = add(i);
    m.depth = i + 1;
    m.parent = i == 0 ? 0xffffffffu : i - 1;
    m.hop = i == 0 ? 1 : 2;
    if (i > 0) whole += "[1]";
    expected.push_back(whole);
  }
  add(kNodes).garbage = true;  // one garbage object: no path at all

  // Streamed through the flush callback: the same text as the whole document.
  std::string streamed, buffer;
  write_snapshot_json(
      buffer,
      [&](std::string& b) {
        streamed += b;
        b.clear();
      },
      s, t, 0, &summary);
  EXPECT_EQ(streamed, snapshot_json(s, t, 0, &summary));
  auto j = nlohmann::json::parse(streamed);
  EXPECT_EQ(j["version"], kHeapSnapshotJsonVersion);
  EXPECT_EQ(j["label"], summary.label);
  const auto& objects = j["objects"];
  ASSERT_EQ(objects.size(), kNodes + 1);
  std::map<std::string, std::size_t> by_address;
  for (std::size_t i = 0; i < objects.size(); ++i) by_address[objects[i]["address"]] = i;

  // Up to kHeldByHops hops, the whole path; then from the ancestor at the last multiple.
  EXPECT_EQ(objects[kHeldByHops - 1]["held_by"], expected[kHeldByHops - 1]);
  EXPECT_FALSE(objects[kHeldByHops - 1].contains("held_by_from"));
  EXPECT_EQ(objects[kHeldByHops]["held_by_from"], "0x13f0");  // node 63, at depth 64
  EXPECT_EQ(objects[kHeldByHops]["held_by"], "[1]");
  EXPECT_EQ(objects[199]["held_by_from"], "0x1bf0");  // node 191, at depth 192
  EXPECT_EQ(objects[199]["held_by"], "[1][1][1][1][1][1][1][1]");
  for (std::uint32_t i = 0; i < kNodes; ++i) {
    std::string path = objects[i]["held_by"];
    EXPECT_LE(path.size(), expected[0].size() + 3 * (kHeldByHops - 1));  // at most 64 hops
    for (std::size_t k = i; objects[k].contains("held_by_from");) {
      k = by_address.at(objects[k]["held_by_from"]);
      path = objects[k]["held_by"].get<std::string>() + path;
    }
    EXPECT_EQ(path, expected[i]) << i;
  }
  EXPECT_FALSE(objects[kNodes].contains("held_by"));
  EXPECT_EQ(objects[kNodes]["garbage"], true);
  EXPECT_EQ(j["garbage"]["objects"], 1);
}

}  // namespace
}  // namespace mpheap::report
