// Loads a fixture snapshot through the library's pipeline on the map/nm path: map/nm (+ qstr
// list) and RAM dumps -> session::load_target -> decode_snapshot, optionally typed.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mpheap/heap/functions.h"
#include "mpheap/heap/objects.h"
#include "mpheap/heap/snapshot.h"
#include "mpheap/session/target_source.h"
#include "trace/test_util.h"

namespace mpheap::testing {

struct FixtureSnapshot {
  target::Target t;
  io::MemoryImage ram;
  heap::Snapshot snap;
};

// `dir` under tests/data; `dumps` are FILE@ADDR relative to it; `qstrs` may be empty. The
// target is loaded by the library's own pipeline (session::load_target), as the CLI does.
inline FixtureSnapshot load_fixture_snapshot(const std::string& dir, bool map,
                                             const std::string& qstrs,
                                             const std::vector<std::string>& dumps,
                                             bool typed = false) {
  FixtureSnapshot l;
  session::TargetSource source;
  if (map) source.map = data_path(dir + "/firmware.map");
  source.nm = data_path(dir + "/firmware.nm");
  if (!qstrs.empty()) source.qstrs = data_path(dir + "/" + qstrs);
  for (const std::string& d : dumps) source.ram.push_back(data_path(dir + "/" + d));
  auto loaded = session::load_target(source);
  EXPECT_TRUE(loaded) << (loaded ? "" : loaded.error().message());
  if (!loaded) return l;
  EXPECT_TRUE(loaded->findings);
  if (!loaded->findings) return l;
  l.t = std::move(loaded->target);
  l.ram = std::move(loaded->ram);
  auto snap = heap::decode_snapshot(l.t, l.ram, loaded->findings->load_bias);
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
