// Loads a fixture snapshot the way the CLI does on the map/nm path: map/nm (+ qstr list) and
// RAM dumps -> infer_layout -> decode_snapshot, optionally typed (classes, header-less blocks).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mpheap/heap/functions.h"
#include "mpheap/heap/objects.h"
#include "mpheap/heap/snapshot.h"
#include "mpheap/target/from_map.h"
#include "mpheap/target/layout_heuristics.h"
#include "trace/test_util.h"

namespace mpheap::testing {

struct FixtureSnapshot {
  target::Target t;
  io::MemoryImage ram;
  heap::Snapshot snap;
};

// `dir` under tests/data; `dumps` are FILE@ADDR relative to it; `qstrs` may be empty.
inline FixtureSnapshot load_fixture_snapshot(const std::string& dir, bool map,
                                             const std::string& qstrs,
                                             const std::vector<std::string>& dumps,
                                             bool typed = false) {
  FixtureSnapshot l;
  auto t = target::read_map_target(
      map ? read_file(data_path(dir + "/firmware.map")) : "", "firmware.map",
      read_file(data_path(dir + "/firmware.nm")), "firmware.nm",
      qstrs.empty() ? "" : read_file(data_path(dir + "/" + qstrs)), qstrs);
  EXPECT_TRUE(t) << (t ? "" : t.error().message());
  if (!t) return l;
  l.t = std::move(*t);
  for (const std::string& d : dumps) {
    auto placed = io::parse_placed_file(data_path(dir + "/" + d));
    EXPECT_TRUE(placed);
    if (!placed) continue;
    auto range = io::load_placed_file(*placed);
    EXPECT_TRUE(range) << (range ? "" : range.error().message());
    if (range) l.ram.add(std::move(*range));
  }
  auto findings = target::infer_layout(l.t, l.ram, std::nullopt);
  EXPECT_TRUE(findings) << (findings ? "" : findings.error().message());
  if (!findings) return l;
  auto snap = heap::decode_snapshot(l.t, l.ram, findings->load_bias);
  EXPECT_TRUE(snap) << (snap ? "" : snap.error().message());
  if (!snap) return l;
  l.snap = std::move(*snap);
  if (typed) {
    heap::ObjectReader reader(l.t, l.ram, l.snap);
    heap::name_objects(l.snap, reader, l.t);
  }
  return l;
}

}  // namespace mpheap::testing
