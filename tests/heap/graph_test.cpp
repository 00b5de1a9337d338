// The ownership graph, reachability, dominators, retainer paths and can-alloc on the fixture
// snapshots, checked against the fixture READMEs' named objects (addresses gdb read) and
// mem_info's figures, plus small hand-built graphs for the dominator algorithm itself.
#include "mpheap/heap/graph.h"

#include <gtest/gtest.h>

#include "heap/snapshot_fixture.h"
#include "mpheap/heap/dominators.h"
#include "mpheap/heap/fragmentation.h"
#include "mpheap/target/from_map.h"
#include "mpheap/target/layout_heuristics.h"
#include "trace/test_util.h"

namespace mpheap::heap {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

using Loaded = mpheap::testing::FixtureSnapshot;

Loaded load(const std::string& dir, bool map, const std::vector<std::string>& dumps) {
  return mpheap::testing::load_fixture_snapshot(dir, map, "", dumps);
}

Loaded microbit(int n) {
  return load("qemu-microbit", true, {"snap" + std::to_string(n) + "_ram.bin@0x20000000"});
}
Loaded splitheap(int n) {
  return load("qemu-mps2-splitheap", true, {"snap" + std::to_string(n) + "_ram.bin@0x187454"});
}
constexpr AddressRange kSplitStack{0x3ffda8, 0x400000};  // snapN_stack.bin: SP .. _estack
void add_split_stack(Loaded& l, int n) {
  auto range = io::load_placed_file(
      {data_path("qemu-mps2-splitheap/snap" + std::to_string(n) + "_stack.bin"), 0x3ffda8});
  ASSERT_TRUE(range) << range.error().message();
  l.ram.add(std::move(*range));
}

std::uint32_t object_at(const Snapshot& s, std::uint64_t address) {
  auto o = object_containing(s, address);
  EXPECT_TRUE(o) << std::hex << address;
  return o.value_or(0);
}

bool has_edge(const ObjectGraph& g, std::uint32_t from, std::uint32_t to) {
  for (std::uint32_t v : g.out_edges(from))
    if (v == to) return true;
  return false;
}

// Invariants every snapshot's graph and dominator tree satisfy.
void check_invariants(const Snapshot& s, const ObjectGraph& g) {
  const std::size_t n = s.objects.size();
  ASSERT_EQ(g.object_count(), n);
  for (std::uint32_t to : g.edges) EXPECT_LT(to, n);
  for (const RootRef& r : g.roots) {
    ASSERT_LT(r.object, n);
    EXPECT_EQ(object_containing(s, r.value), r.object);
    EXPECT_FALSE(r.name.empty());
  }
  const Reachability reach = reachability(s, g);
  const DominatorTree d = dominators(s, g);
  EXPECT_EQ(reach.reachable_bytes + reach.garbage_bytes,
            s.totals.used);  // every allocated block is an object's
  std::uint64_t children = 0;
  for (std::uint32_t o = 0; o < n; ++o) {
    EXPECT_EQ(reach.reachable[o], d.reachable[o]);
    if (d.reachable[o] == 0) continue;
    const std::uint64_t own = s.objects[o].blocks * g.block_size;
    EXPECT_GE(d.retained_bytes[o], own);
    if (g.is_rooted(o)) {
      EXPECT_TRUE(d.is_root_child(o));
    }
    if (d.is_root_child(o)) {
      children += d.retained_bytes[o];
    } else {
      ASSERT_LT(d.idom[o], n);
      EXPECT_NE(d.reachable[d.idom[o]], 0);
      EXPECT_GT(d.retained_bytes[d.idom[o]], d.retained_bytes[o]);
    }
    // The retainer chain starts at a rooted object and follows edges.
    auto chain = retainer_chain(reach, o);
    ASSERT_FALSE(chain.empty());
    EXPECT_TRUE(g.is_rooted(chain.front()));
    EXPECT_EQ(chain.back(), o);
    for (std::size_t k = 1; k < chain.size(); ++k) EXPECT_TRUE(has_edge(g, chain[k - 1], chain[k]));
  }
  EXPECT_EQ(children, d.total_reachable_bytes);
  EXPECT_EQ(d.total_reachable_bytes, reach.reachable_bytes);
  auto top = top_retainers(s, d, 5);
  for (std::size_t k = 1; k < top.size(); ++k)
    EXPECT_GE(top[k - 1].retained_bytes, top[k].retained_bytes);
}

// A .bss that claims 1.7 GB beyond the 16 KiB dumped (a damaged or foreign target.json): the
// words outside the dump are counted, not probed one by one, and the roots are the same as with
// the real .bss. (Probing each word took seconds; libFuzzer found it as a timeout.)
TEST(Graph, HugeUncapturedRootRangeIsCountedNotProbed) {
  Loaded l = microbit(2);
  const ObjectGraph normal = build_graph(l.t, l.ram, l.snap);
  target::Target t = l.t;
  bool widened = false;
  std::uint64_t bss_end = 0;
  for (target::MemoryRegion& r : t.regions) {
    if (r.kind != target::RegionKind::bss) continue;
    bss_end = r.end;
    r.end = 0x8819937c;
    widened = true;
  }
  ASSERT_TRUE(widened);
  ASSERT_LE(bss_end, 0x20004000u);
  const ObjectGraph wide = build_graph(t, l.ram, l.snap);
  // 0x20004000 is where the dump ends; every 4-byte word after it is not captured.
  EXPECT_EQ(wide.words_not_captured, normal.words_not_captured + (0x8819937cu - 0x20004000u) / 4);
  EXPECT_EQ(wide.words_scanned, normal.words_scanned + (0x20004000u - bss_end) / 4);
  EXPECT_GE(wide.roots.size(), normal.roots.size());
  for (std::size_t k = 0; k < normal.roots.size(); ++k) {
    EXPECT_EQ(wide.roots[k].slot, normal.roots[k].slot);
    EXPECT_EQ(wide.roots[k].object, normal.roots[k].object);
  }
}

TEST(Graph, MicrobitSnap2NamedObjects) {
  Loaded l = microbit(2);
  const Snapshot& s = l.snap;
  ObjectGraph g = build_graph(l.t, l.ram, s);
  check_invariants(s, g);
  EXPECT_EQ(g.words_not_captured, 0u);

  // GREETING str 0x20000430 -> its data 0x200004c0; CONFIG dict 0x20000490 -> table 0x200004e0.
  const std::uint32_t greeting = object_at(s, 0x20000430);
  EXPECT_EQ(s.type_name(s.objects[greeting]), "str");
  EXPECT_TRUE(has_edge(g, greeting, object_at(s, 0x200004c0)));
  const std::uint32_t config = object_at(s, 0x20000490);
  EXPECT_EQ(s.type_name(s.objects[config]), "dict");
  EXPECT_TRUE(has_edge(g, config, object_at(s, 0x200004e0)));
  // SPRITES list 0x200006e0 -> items 0x20000710 -> the three instances.
  const std::uint32_t items = object_at(s, 0x20000710);
  EXPECT_TRUE(has_edge(g, object_at(s, 0x200006e0), items));
  for (std::uint64_t a : {0x200006b0, 0x200006c0, 0x200006d0})
    EXPECT_TRUE(has_edge(g, items, object_at(s, a)));

  // __main__'s globals: vm.dict_main's map table 0x20000a30 is a root and holds CONFIG.
  const std::uint32_t table = object_at(s, 0x20000a30);
  bool dict_main_root = false;
  for (std::uint32_t k : g.roots_of(table))
    dict_main_root |= g.roots[k].name == "mp_state_ctx.vm.dict_main.map.table";
  EXPECT_TRUE(dict_main_root);
  EXPECT_TRUE(has_edge(g, table, config));

  const Reachability reach = reachability(s, g);
  EXPECT_NE(reach.reachable[config], 0);
  auto path = retainer_path(s, g, reach, 0x20000490);
  ASSERT_TRUE(path);
  EXPECT_EQ(*path,
            "mp_state_ctx.vm.dict_main.map.table -> 0x20000a30 (unknown) -> 0x20000490 (dict)");
  EXPECT_EQ(retainer_path(s, g, reach, 0x2000049c), path);  // interior address, same object
  EXPECT_FALSE(retainer_path(s, g, reach, 0x20001000));     // a free block
  auto gpath = retainer_path(s, g, reach, 0x200004c0);
  ASSERT_TRUE(gpath);
  EXPECT_TRUE(gpath->starts_with("mp_state_ctx.")) << *gpath;
  EXPECT_TRUE(gpath->ends_with("-> 0x200004c0 (unknown)")) << *gpath;

  // After the workload's final gc.collect() everything allocated is reachable, but one object
  // only from the stack: the frozen module's running function (fun_bc 0x20000480). The stack is
  // in the RAM dump (SP 0x20003e18 inside mem_info(1) .. _estack).
  EXPECT_EQ(reach.garbage_objects, 1u);
  EXPECT_EQ(reach.reachable[object_at(s, 0x20000480)], 0);
  const std::string fun_type = object_type_label(s, s.objects[object_at(s, 0x20000480)]);
  EXPECT_EQ(fun_type, "fun_bc");
  GraphOptions with_stack;
  with_stack.stack = AddressRange{0x20003e18, 0x20004000};
  ObjectGraph gs = build_graph(l.t, l.ram, s, with_stack);
  check_invariants(s, gs);
  const Reachability rs = reachability(s, gs);
  EXPECT_EQ(rs.garbage_objects, 0u);
  EXPECT_EQ(rs.reachable_bytes, 1568u);
  EXPECT_EQ(retainer_path(s, gs, rs, 0x20000480), "stack+0xe4 -> 0x20000480 (" + fun_type + ")");

  // GREETING alone holds its data: it dominates it and retains both.
  const DominatorTree d = dominators(s, g);
  const std::uint32_t data = object_at(s, 0x200004c0);
  EXPECT_EQ(d.idom[data], greeting);
  EXPECT_EQ(d.retained_bytes[greeting], (1 + s.objects[data].blocks) * 16);
  EXPECT_EQ(d.total_reachable_bytes, 1552u);
}

TEST(Graph, RootsComeFromStateWithoutDataBss) {
  Loaded l = microbit(2);
  GraphOptions o;
  o.scan_data_bss = false;
  ObjectGraph g = build_graph(l.t, l.ram, l.snap, o);
  ASSERT_EQ(g.root_ranges.size(), 1u);
  EXPECT_EQ(g.root_ranges[0].start, 0x20000010u);      // mp_state_ctx
  EXPECT_EQ(g.root_ranges[0].end, 0x20000010u + 376);  // up to mem.area (mem @+364)
  check_invariants(l.snap, g);
}

TEST(Graph, SplitHeapDroppedBlobsAreGarbage) {
  // snap2: every even BLOBS[i] was set to None and not yet collected; snap3 is after the
  // collection that freed them: 47792 - 34992 = 12800 bytes = 100 * (16 + 112).
  Loaded l2 = splitheap(2);
  add_split_stack(l2, 2);
  GraphOptions o;
  o.stack = kSplitStack;
  ObjectGraph g2 = build_graph(l2.t, l2.ram, l2.snap, o);
  check_invariants(l2.snap, g2);
  const Reachability r2 = reachability(l2.snap, g2);
  // BLOBS[0] and [2] from snap1_named_objects.txt (objects and their data); [1] survives.
  for (std::uint64_t a : {0x187ba0, 0x187d90, 0x187cd0, 0x187e70})
    EXPECT_EQ(r2.reachable[object_at(l2.snap, a)], 0) << std::hex << a;
  for (std::uint64_t a : {0x187cc0, 0x187e00}) EXPECT_NE(r2.reachable[object_at(l2.snap, a)], 0);
  EXPECT_EQ(r2.garbage_objects, 200u);
  EXPECT_EQ(r2.garbage_bytes, 12800u);
  auto path = retainer_path(l2.snap, g2, r2, 0x187e00);  // BLOBS[1]'s data
  ASSERT_TRUE(path);
  EXPECT_TRUE(path->starts_with("mp_state_ctx.vm.dict_main.map.table -> 0x193960 (unknown)"))
      << *path;
  EXPECT_TRUE(path->ends_with("-> 0x187cc0 (bytearray) -> 0x187e00 (unknown)")) << *path;

  Loaded l3 = splitheap(3);
  add_split_stack(l3, 3);
  ObjectGraph g3 = build_graph(l3.t, l3.ram, l3.snap, o);
  check_invariants(l3.snap, g3);
  EXPECT_EQ(reachability(l3.snap, g3).garbage_bytes, 0u);

  // The BLOBS items array lives in area 2 and BIG's data in area 3: edges cross areas.
  EXPECT_TRUE(has_edge(g3, object_at(l3.snap, 0x187b80), object_at(l3.snap, 0x18c090)));
  EXPECT_TRUE(has_edge(g3, object_at(l3.snap, 0x18e950), object_at(l3.snap, 0x18e960)));
}

TEST(Graph, UnixAndCircuitPythonSnapshots) {
  for (int n : {1, 2}) {
    Loaded u = load("unix-x64", false,
                    {"snap" + std::to_string(n) + "_mp_state_ctx.bin@0x5555555f2440",
                     "snap" + std::to_string(n) + "_heap.bin@0x5555555f32d0"});
    ObjectGraph g = build_graph(u.t, u.ram, u.snap);
    check_invariants(u.snap, g);
    // GREETING str -> its data (README: 0x5555555f4160 -> 0x5555555f4180).
    EXPECT_TRUE(has_edge(g, object_at(u.snap, 0x5555555f4160), object_at(u.snap, 0x5555555f4180)));
    const Reachability r = reachability(u.snap, g);
    auto path = retainer_path(u.snap, g, r, 0x5555555f3aa0);  // CONFIG
    ASSERT_TRUE(path);
    EXPECT_EQ(*path,
              "mp_state_ctx.vm.dict_main.map.table -> 0x5555555f4480 (unknown) -> 0x5555555f3aa0 "
              "(dict)");
    Loaded c = load("circuitpython-unix", false,
                    {"snap" + std::to_string(n) + "_mp_state_ctx.bin@0x5555555de3a0",
                     "snap" + std::to_string(n) + "_heap.bin@0x5555555df2d0"});
    check_invariants(c.snap, build_graph(c.t, c.ram, c.snap));
  }
}

TEST(Graph, InteriorPointersOptional) {
  Loaded l = microbit(2);
  GraphOptions exact;
  exact.interior_pointers = false;
  ObjectGraph strict = build_graph(l.t, l.ram, l.snap, exact);
  ObjectGraph loose = build_graph(l.t, l.ram, l.snap);
  EXPECT_LE(strict.edges.size(), loose.edges.size());
  check_invariants(l.snap, strict);
}

// A hand-built snapshot: objects of one block each, edges given directly.
struct Toy {
  Snapshot s;
  ObjectGraph g;
};
Toy toy(std::uint32_t n, const std::vector<std::pair<std::uint32_t, std::uint32_t>>& edges,
        const std::vector<std::uint32_t>& rooted) {
  Toy t;
  AreaSnapshot a;
  a.bounds.pool_start = 0x1000;
  a.bounds.pool_end = 0x1000 + 16 * n;
  a.bounds.alloc_table_bytes = (n + 3) / 4;
  a.kinds.assign(n, BlockKind::head);
  a.object_count = n;
  t.s.areas.push_back(a);
  for (std::uint32_t i = 0; i < n; ++i) {
    HeapObject o;
    o.block = i;
    o.blocks = 1;
    o.address = 0x1000 + 16 * i;
    t.s.objects.push_back(o);
  }
  for (std::uint32_t i = 0; i < n; ++i) {
    t.g.edge_begin.push_back(static_cast<std::uint32_t>(t.g.edges.size()));
    for (auto [from, to] : edges)
      if (from == i) t.g.edges.push_back(to);
  }
  t.g.edge_begin.push_back(static_cast<std::uint32_t>(t.g.edges.size()));
  for (std::uint32_t r : rooted) t.g.roots.push_back({0, 0, r, "root" + std::to_string(r)});
  for (std::uint32_t i = 0; i < n; ++i)
    for (std::uint32_t k = 0; k < t.g.roots.size(); ++k)
      if (t.g.roots[k].object == i) t.g.root_index.push_back(k);
  return t;
}

TEST(Dominators, DiamondCycleAndTwoRoots) {
  // 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3, 3 -> 4, 4 -> 3 (a cycle), 5 rooted -> 6; 7 unreachable -> 3.
  Toy t = toy(8, {{0, 1}, {0, 2}, {1, 3}, {2, 3}, {3, 4}, {4, 3}, {5, 6}, {7, 3}}, {0, 5});
  DominatorTree d = dominators(t.s, t.g);
  EXPECT_TRUE(d.is_root_child(0));
  EXPECT_TRUE(d.is_root_child(5));
  EXPECT_EQ(d.idom[1], 0u);
  EXPECT_EQ(d.idom[2], 0u);
  EXPECT_EQ(d.idom[3], 0u);
  EXPECT_EQ(d.idom[4], 3u);
  EXPECT_EQ(d.idom[6], 5u);
  EXPECT_EQ(d.reachable[7], 0);
  EXPECT_EQ(d.retained_bytes[0], 5u * 16);
  EXPECT_EQ(d.retained_bytes[3], 2u * 16);
  EXPECT_EQ(d.total_reachable_bytes, 7u * 16);
  auto top = top_retainers(t.s, d, 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].object, 0u);
  EXPECT_EQ(top[1].retained_bytes, 2u * 16);

  Reachability r = reachability(t.s, t.g);
  EXPECT_EQ(r.garbage_objects, 1u);
  EXPECT_EQ(retainer_path(t.s, t.g, r, 0x1000 + 16 * 4 + 3),
            "root0 -> 0x1000 (unknown) -> 0x1010 (unknown) -> 0x1030 (unknown) -> 0x1040 "
            "(unknown)");
  EXPECT_FALSE(retainer_path(t.s, t.g, r, 0x1070));  // garbage has no retainer path

  // Both roots reach 3: only the virtual root dominates it.
  Toy u = toy(3, {{0, 2}, {1, 2}}, {0, 1});
  DominatorTree du = dominators(u.s, u.g);
  EXPECT_TRUE(du.is_root_child(2));
  EXPECT_EQ(du.retained_bytes[0], 16u);
}

TEST(Fragmentation, FreeRunsEqualMemInfo) {
  Loaded m = microbit(2);
  FreeRuns f = free_runs(m.snap);
  EXPECT_EQ(f.largest, 281u);  // snap2_mem_info.txt: max free sz: 281
  EXPECT_EQ(f.largest, m.snap.totals.max_free);
  EXPECT_EQ(f.free_blocks * 16, 6368u);
  std::uint64_t runs = 0, blocks = 0;
  for (auto [len, count] : f.histogram) {
    runs += count;
    blocks += len * count;
  }
  EXPECT_EQ(runs, f.runs);
  EXPECT_EQ(blocks, f.free_blocks);
  EXPECT_EQ(free_runs(microbit(1).snap).largest, 398u);

  // Split heap: per-area max free 5 / 0 / 499 in snap1 and 16 / 8 / 499 in snap3.
  EXPECT_EQ(free_runs(splitheap(1).snap).largest_per_area, (std::vector<std::uint64_t>{5, 0, 499}));
  FreeRuns s3 = free_runs(splitheap(3).snap);
  EXPECT_EQ(s3.largest_per_area, (std::vector<std::uint64_t>{16, 8, 499}));
  EXPECT_EQ(s3.largest_area, 2u);
}

TEST(CanAlloc, MicrobitLargestFreeRun) {
  for (int n : {1, 2}) {
    Loaded m = microbit(n);
    ObjectGraph g = build_graph(m.t, m.ram, m.snap);
    const std::uint64_t max_free = n == 1 ? 398 : 281;
    CanAllocResult fits = can_alloc(m.snap, g, max_free * 16);
    EXPECT_EQ(fits.blocks, max_free);
    EXPECT_TRUE(fits.fits_now);
    EXPECT_TRUE(fits.fits_after_collect);
    EXPECT_TRUE(fits.pinning.empty());
    CanAllocResult one_more = can_alloc(m.snap, g, max_free * 16 + 1);
    EXPECT_EQ(one_more.blocks, max_free + 1);
    EXPECT_FALSE(one_more.fits_now);
    EXPECT_EQ(one_more.largest_free_now, max_free);
    // Nothing is garbage after gc.collect(): collecting does not help, so the objects that
    // split the free space are ranked, each with a retainer path.
    EXPECT_FALSE(one_more.fits_after_collect);
    ASSERT_FALSE(one_more.pinning.empty());
    for (std::size_t k = 0; k < one_more.pinning.size(); ++k) {
      const PinningObject& p = one_more.pinning[k];
      EXPECT_GT(p.run_if_freed, max_free);
      EXPECT_TRUE(p.allows_alloc);
      EXPECT_TRUE(p.retainer_path.starts_with("mp_state_ctx") ||
                  p.retainer_path.find(" -> ") != std::string::npos)
          << p.retainer_path;
      if (k > 0) {
        EXPECT_GE(one_more.pinning[k - 1].run_if_freed, p.run_if_freed);
      }
    }
    EXPECT_TRUE(can_alloc(m.snap, g, 0).fits_now);
    EXPECT_FALSE(can_alloc(m.snap, g, 8000).fits_after_collect);  // more than the pool
  }
  {
    Loaded m = microbit(2);
    ObjectGraph g = build_graph(m.t, m.ram, m.snap);
    CanAllocResult r = can_alloc(m.snap, g, 282 * 16);
    EXPECT_FALSE(r.fits_now);
    ASSERT_FALSE(r.pinning.empty());
    // The hS at offset 0xc00+9 splits the big free stretch: freeing it joins both sides.
    EXPECT_GT(r.pinning.front().run_if_freed, 281u);
  }
}

TEST(CanAlloc, SplitHeapCollectionFreesTheDroppedBlobs) {
  Loaded l = splitheap(2);
  add_split_stack(l, 2);
  GraphOptions o;
  o.stack = kSplitStack;
  ObjectGraph g = build_graph(l.t, l.ram, l.snap, o);
  // Area 1 has 6 free blocks now; freeing the dropped blobs gives it longer runs.
  CanAllocResult r = can_alloc(l.snap, g, 8 * 16);
  EXPECT_TRUE(r.fits_now);  // area 3 has 499 free blocks
  CanAllocResult big = can_alloc(l.snap, g, 500 * 16);
  EXPECT_FALSE(big.fits_now);
  EXPECT_EQ(big.garbage_bytes, 12800u);
  EXPECT_EQ(big.largest_free_after_collect, free_runs(splitheap(3).snap).largest);
}

}  // namespace
}  // namespace mpheap::heap
