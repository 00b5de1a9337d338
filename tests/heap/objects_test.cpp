// Named objects the fixture workloads created, found and read back from the snapshots:
// strings with known text, dicts with known keys, classes by name and their instances.
#include "mpheap/heap/objects.h"

#include <gtest/gtest.h>

#include <map>

#include "heap/snapshot_fixture.h"
#include "mpheap/heap/snapshot.h"
#include "mpheap/target/from_map.h"
#include "mpheap/target/layout_heuristics.h"
#include "trace/test_util.h"

namespace mpheap::heap {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

using Loaded = mpheap::testing::FixtureSnapshot;

Loaded load(const std::string& dir, bool map, const std::string& qstrs,
            const std::vector<std::string>& dumps) {
  return mpheap::testing::load_fixture_snapshot(dir, map, qstrs, dumps);
}

std::map<std::string, std::uint64_t> globals_of(const ObjectReader& r) {
  std::map<std::string, std::uint64_t> g;
  for (auto& [k, v] : r.globals()) g[k] = v;
  return g;
}

// The checks every workload shares (see each fixture's workload.py).
void check_workload(Loaded& l, std::uint64_t greeting, std::uint64_t config,
                    std::uint64_t sprite_class, std::uint64_t sprites, bool unix_workload = false) {
  ObjectReader r(l.t, l.ram, l.snap);
  name_instance_types(l.snap, r, l.t);
  auto g = globals_of(r);
  ASSERT_EQ(g.count("GREETING"), 1u);
  EXPECT_EQ(g["GREETING"], greeting);
  EXPECT_EQ(g["CONFIG"], config);
  EXPECT_EQ(g["Sprite"], sprite_class);
  EXPECT_EQ(g["SPRITES"], sprites);

  const HeapObject* s = r.object_at(greeting);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(l.snap.type_name(*s), "str");
  EXPECT_EQ(r.str_value(*s), "hello mpheap fixture");

  const HeapObject* d = r.object_at(config);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(l.snap.type_name(*d), "dict");
  auto items = r.dict_items(*d);
  ASSERT_TRUE(items);
  std::map<std::string, std::uint64_t> keys;
  for (auto [k, v] : *items) keys[r.repr(k)] = v;
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(r.repr(keys["'alpha'"]), "1");
  if (unix_workload) {
    // unix-x64/workload_a.py: {'alpha': 1, 'beta': 'two', 'gamma': [3, 3.5, 'three']}
    EXPECT_EQ(r.repr(keys["'beta'"]), "'two'");
    const HeapObject* gamma = r.object_at(keys["'gamma'"]);
    ASSERT_NE(gamma, nullptr);
    EXPECT_EQ(l.snap.type_name(*gamma), "list");
    auto gamma_items = r.sequence_items(*gamma);
    ASSERT_TRUE(gamma_items);
    ASSERT_EQ(gamma_items->size(), 3u);
    EXPECT_EQ(r.repr((*gamma_items)[0]), "3");
    EXPECT_EQ(r.repr((*gamma_items)[2]), "'three'");
  } else {
    // {"alpha": 1, "beta": [2, 3], "gamma": GREETING}
    EXPECT_EQ(keys["'gamma'"], greeting);
    EXPECT_EQ(r.repr(keys["'gamma'"]), "'hello mpheap fixture'");
    const HeapObject* beta = r.object_at(keys["'beta'"]);
    ASSERT_NE(beta, nullptr);
    auto beta_items = r.sequence_items(*beta);
    ASSERT_TRUE(beta_items);
    ASSERT_EQ(beta_items->size(), 2u);
    EXPECT_EQ(r.repr((*beta_items)[0]), "2");
    EXPECT_EQ(r.repr((*beta_items)[1]), "3");
  }

  const HeapObject* cls = r.object_at(sprite_class);
  ASSERT_NE(cls, nullptr);
  EXPECT_EQ(l.snap.type_name(*cls), "type");
  EXPECT_EQ(r.class_name(*cls), "Sprite");

  const HeapObject* list = r.object_at(sprites);
  ASSERT_NE(list, nullptr);
  auto members = r.sequence_items(*list);
  ASSERT_TRUE(members);
  ASSERT_EQ(members->size(), 3u);
  for (std::uint64_t m : *members) {
    const HeapObject* inst = r.object_at(m);
    ASSERT_NE(inst, nullptr);
    EXPECT_EQ(l.snap.type_name(*inst), "Sprite");
  }
}

TEST(NamedObjects, MicrobitSnap2) {
  Loaded l = load("qemu-microbit", true, "qstr_static.txt", {"snap2_ram.bin@0x20000000"});
  check_workload(l, 0x20000430, 0x20000490, 0x20000670, 0x200006e0);
  ObjectReader r(l.t, l.ram, l.snap);
  EXPECT_EQ(r.heap_qstr_count(), 3u);  // README: last_pool holds dyn_attr_0..2
  EXPECT_EQ(r.qstr(653), "dyn_attr_0");
  label_headerless_blocks(l.snap, r, l.t);
  EXPECT_EQ(l.snap.type_name(*r.object_at(0x200004c0)), "str data");    // GREETING's bytes (README)
  EXPECT_EQ(l.snap.type_name(*r.object_at(0x200008f0)), "qstr pool");   // vm.last_pool
  EXPECT_EQ(l.snap.type_name(*r.object_at(0x20000710)), "list items");  // SPRITES' items
  EXPECT_EQ(l.snap.type_name(*r.object_at(0x200004e0)), "dict table");  // CONFIG's table
  EXPECT_EQ(l.snap.type_name(*r.object_at(0x20000a30)), "dict table");  // __main__'s globals table
  EXPECT_EQ(l.snap.type_name(*r.object_at(0x20000410)), "dict table");  // sys.modules' table
  // sys.argv's items: vm.mp_sys_argv_obj is a list inside mp_state_ctx (firmware.ptype.txt:
  // vm at +36, the list at vm+108, its items pointer at +12), 0x20000460 in the dump.
  EXPECT_EQ(l.snap.type_name(*r.object_at(0x20000460)), "list items");
}

TEST(NamedObjects, UnixSnap2) {
  Loaded l = load("unix-x64", false, "rom_qstrs.txt",
                  {"snap2_mp_state_ctx.bin@0x5555555f2440", "snap2_heap.bin@0x5555555f32d0"});
  check_workload(l, 0x5555555f4160, 0x5555555f3aa0, 0x5555555f3de0, 0x5555555f3d00, true);
  ObjectReader r(l.t, l.ram, l.snap);
  EXPECT_EQ(r.qstr(723), "Sprite");  // a qstr of the heap pools
}

TEST(NamedObjects, CircuitPythonSnap2) {
  Loaded l = load("circuitpython-unix", false, "rom_qstrs.txt",
                  {"snap2_mp_state_ctx.bin@0x5555555de3a0", "snap2_heap.bin@0x5555555df2d0"});
  check_workload(l, 0x5555555dfb40, 0x5555555dfb00, 0x5555555dfdc0, 0x5555555dfd40);
}

}  // namespace
}  // namespace mpheap::heap
