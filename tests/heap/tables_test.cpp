// The finaliser, weakref and selective-collect tables: per-object bits read from the fixtures'
// dumps against their READMEs and py/gc.c, the collector's scan honouring the collect table,
// their output, and damaged or missing tables on a hand-built heap.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "heap/snapshot_fixture.h"
#include "mpheap/heap/graph.h"
#include "mpheap/heap/snapshot.h"
#include "mpheap/report/heap_report.h"

namespace mpheap::heap {
namespace {

using Loaded = mpheap::testing::FixtureSnapshot;

std::uint64_t count_set(const BlockTable& table) {
  return static_cast<std::uint64_t>(
      std::count(table.bits.begin(), table.bits.end(), TableBit::set));
}

// py/gc.c (MicroPython 1.28 and CircuitPython alike) clears a block's finaliser bit in gc_free
// and in the sweep's finaliser pass before it frees an unmarked head: a set bit is on a head.
void expect_finaliser_bits_on_heads(const Snapshot& s) {
  for (const AreaSnapshot& a : s.areas) {
    ASSERT_TRUE(a.finaliser_table);
    ASSERT_EQ(a.finaliser_table->bits.size(), a.kinds.size());
    for (std::size_t b = 0; b < a.kinds.size(); ++b) {
      EXPECT_NE(a.finaliser_table->bits[b], TableBit::unknown) << "block " << b;
      if (a.finaliser_table->bits[b] == TableBit::set) {
        EXPECT_TRUE(a.kinds[b] == BlockKind::head || a.kinds[b] == BlockKind::mark)
            << "block " << b;
      }
    }
  }
  for (const Diagnostic& d : s.diagnostics)
    EXPECT_EQ(d.what.find("table"), std::string::npos) << d.what;
}

const HeapObject* object_at(const Snapshot& s, std::uint64_t address) {
  for (const HeapObject& o : s.objects)
    if (o.address == address) return &o;
  return nullptr;
}

// unix-x64 (MicroPython 1.28 unix, README: "The finaliser table is present ... There is no
// weakref table"). MICROPY_READER_VFS opens the script through mp_vfs_open, and
// extmod/vfs_posix_file.c allocates its FileIO with mp_obj_malloc_with_finaliser. At snapshot 1
// no collection has swept yet (counters {162,83,0,63}), so that closed file is the one object
// with its bit set; gc.collect() then sweeps 9 objects and the finaliser pass clears its bit.
Loaded unix_snapshot(int n) {
  const std::string s = std::to_string(n);
  return mpheap::testing::load_fixture_snapshot(
      "unix-x64", false, "rom_qstrs.txt",
      {"snap" + s + "_mp_state_ctx.bin@0x5555555f2440", "snap" + s + "_heap.bin@0x5555555f32d0"},
      /*typed=*/true);
}

TEST(BlockTables, UnixFinaliserOnTheScriptFile) {
  Loaded l = unix_snapshot(1);
  ASSERT_EQ(l.snap.areas.size(), 1u);
  const AreaSnapshot& a = l.snap.areas[0];
  ASSERT_TRUE(a.finaliser_table);
  EXPECT_EQ(a.finaliser_table->address, 0x5555555f34caULL);  // README: ATB start + 506
  EXPECT_FALSE(a.weakref_table);
  EXPECT_FALSE(a.collect_table);
  EXPECT_EQ(count_set(*a.finaliser_table), 1u);
  expect_finaliser_bits_on_heads(l.snap);

  std::vector<const HeapObject*> with;
  for (const HeapObject& o : l.snap.objects) {
    EXPECT_NE(o.has_finaliser, TableBit::unknown);
    EXPECT_EQ(o.has_weakref, TableBit::absent);
    EXPECT_EQ(o.collect, TableBit::absent);
    if (o.has_finaliser == TableBit::set) with.push_back(&o);
  }
  ASSERT_EQ(with.size(), 1u);
  EXPECT_EQ(with[0]->block, 25u);
  EXPECT_EQ(with[0]->address, 0x5555555f3640ULL + 25 * 32);
  const target::Symbol* fileio = l.t.find_symbol("mp_type_vfs_posix_fileio");
  ASSERT_NE(fileio, nullptr);
  ASSERT_TRUE(with[0]->type_pointer());
  EXPECT_EQ(*with[0]->type_pointer(), fileio->address + l.snap.load_bias);
  EXPECT_EQ(report::object_flags_text(*with[0]), "has finaliser");
  EXPECT_EQ(report::table_counts_text(l.snap, l.t), "objects with finalisers: 1 (32 bytes)\n");
}

TEST(BlockTables, UnixFinaliserClearedBySweep) {
  Loaded l = unix_snapshot(2);
  ASSERT_EQ(l.snap.areas.size(), 1u);
  EXPECT_EQ(count_set(*l.snap.areas[0].finaliser_table), 0u);
  EXPECT_EQ(l.snap.areas[0].kinds[25], BlockKind::free);  // the file was swept
  expect_finaliser_bits_on_heads(l.snap);
  for (const HeapObject& o : l.snap.objects) EXPECT_EQ(o.has_finaliser, TableBit::clear);
}

// circuitpython-unix README: FTB and selective-collect table (CTB) present, no weakref table;
// "69 of the 76 heads have their CTB bit set; 481 CTB bits set in all (stale ones on free
// blocks); FTB empty" at the end (= snap2), "59 heads with CTB bit, 86 CTB bits" at snap1.
// CircuitPython allocates qstr chunks (qstr.c), bytearray data (objarray.c) and bytecode
// (emitbc.c) with m_malloc_without_collect, str data with m_new (collected).
TEST(BlockTables, CircuitPythonSelectiveCollect) {
  struct Expect {
    int snapshot;
    std::uint64_t heads, heads_collected, ctb_bits;
  };
  for (const Expect& e : {Expect{1, 66, 59, 86}, Expect{2, 76, 69, 481}}) {
    SCOPED_TRACE(e.snapshot);
    const std::string n = std::to_string(e.snapshot);
    Loaded l = mpheap::testing::load_fixture_snapshot(
        "circuitpython-unix", false, "rom_qstrs.txt",
        {"snap" + n + "_mp_state_ctx.bin@0x5555555de3a0", "snap" + n + "_heap.bin@0x5555555df2d0"},
        /*typed=*/true);
    ASSERT_EQ(l.snap.areas.size(), 1u);
    const AreaSnapshot& a = l.snap.areas[0];
    ASSERT_TRUE(a.finaliser_table);
    ASSERT_TRUE(a.collect_table);
    EXPECT_FALSE(a.weakref_table);
    EXPECT_EQ(a.finaliser_table->address, 0x5555555df4c8ULL);
    EXPECT_EQ(a.collect_table->address, 0x5555555df5c4ULL);
    EXPECT_EQ(count_set(*a.finaliser_table), 0u);
    EXPECT_EQ(count_set(*a.collect_table), e.ctb_bits);
    expect_finaliser_bits_on_heads(l.snap);  // stale collect bits are not reported

    ASSERT_EQ(l.snap.objects.size(), e.heads);
    std::uint64_t collected = 0;
    std::map<std::string, int> not_scanned;
    for (const HeapObject& o : l.snap.objects) {
      EXPECT_EQ(o.has_finaliser, TableBit::clear);
      EXPECT_EQ(o.has_weakref, TableBit::absent);
      ASSERT_NE(o.collect, TableBit::unknown);
      if (o.collect == TableBit::set)
        ++collected;
      else
        ++not_scanned[l.snap.type_name(o)];
    }
    EXPECT_EQ(collected, e.heads_collected);
    // The typer names 6 of the 7 (one 1-block allocation, block 230, stays unnamed).
    int named = 0;
    for (const auto& [type, count] : not_scanned) {
      EXPECT_TRUE(type.empty() || type == "qstr chunk" || type == "bytearray data" ||
                  type == "bytecode")
          << type;
      if (!type.empty()) named += count;
    }
    EXPECT_GE(named, 6);
    EXPECT_EQ(not_scanned["qstr chunk"], 2);
    EXPECT_EQ(object_at(l.snap, 0x5555555dfc60)->collect, TableBit::clear);  // BUFFER's data
    EXPECT_EQ(object_at(l.snap, 0x5555555dfa60)->collect, TableBit::set);    // GREETING's data

    // The scan leaves the not-collected objects out: no edges from them.
    ObjectGraph g = build_graph(l.t, l.ram, l.snap);
    EXPECT_EQ(g.objects_not_scanned, e.heads - e.heads_collected);
    for (std::uint32_t i = 0; i < l.snap.objects.size(); ++i)
      if (l.snap.objects[i].collect == TableBit::clear) {
        EXPECT_TRUE(g.out_edges(i).empty());
      }
    GraphOptions everything;
    everything.selective_collect = false;
    EXPECT_EQ(build_graph(l.t, l.ram, l.snap, everything).objects_not_scanned, 0u);
    EXPECT_NE(report::table_counts_text(l.snap, l.t)
                  .find(fmt::format("not scanned (selective collect): {} (",
                                    e.heads - e.heads_collected)),
              std::string::npos);
  }
}

// Both QEMU builds have MICROPY_ENABLE_FINALISER and no weakref table; their READMEs give the
// table addresses, and no object has a finaliser (the FTB is all zero).
TEST(BlockTables, QemuFinaliserTablesEmpty) {
  for (int n : {1, 2}) {
    Loaded l = mpheap::testing::load_fixture_snapshot(
        "qemu-microbit", true, "", {"snap" + std::to_string(n) + "_ram.bin@0x20000000"});
    ASSERT_EQ(l.snap.areas.size(), 1u);
    EXPECT_EQ(l.snap.areas[0].finaliser_table->address, 0x20000399ULL);
    EXPECT_EQ(count_set(*l.snap.areas[0].finaliser_table), 0u);
    EXPECT_FALSE(l.snap.areas[0].weakref_table);
    expect_finaliser_bits_on_heads(l.snap);
  }
  const std::uint64_t ftb[] = {0x1879ef, 0x18b991, 0x18db08};
  for (int n : {1, 2, 3}) {
    Loaded l = mpheap::testing::load_fixture_snapshot(
        "qemu-mps2-splitheap", true, "", {"snap" + std::to_string(n) + "_ram.bin@0x187454"});
    ASSERT_EQ(l.snap.areas.size(), 3u);
    for (std::size_t a = 0; a < 3; ++a) {
      EXPECT_EQ(l.snap.areas[a].finaliser_table->address, ftb[a]);
      EXPECT_EQ(count_set(*l.snap.areas[a].finaliser_table), 0u);
    }
    expect_finaliser_bits_on_heads(l.snap);
    for (const HeapObject& o : l.snap.objects) EXPECT_EQ(o.has_finaliser, TableBit::clear);
  }
}

// A hand-built 32-bit heap of 8 blocks of 16 bytes: mp_state_ctx at 0x20000000 with its area
// record at +0x20 {atb, atb_len, ftb, pool_start, pool_end, ctb}; ATB at 0x40 (2 bytes), gap,
// FTB at 0x43, CTB at 0x44, pool 0x50..0xd0. Objects: block 0, blocks 1-2, block 4.
// Block 1 has a finaliser and is not collected; 0 points at 1, 1 points at 4.
constexpr std::uint64_t kRam = 0x20000000;

struct ToyHeap {
  target::Target t;
  std::vector<std::uint8_t> bytes = std::vector<std::uint8_t>(0xd0, 0);

  ToyHeap() {
    t.word_size = 4;
    t.little_endian = true;
    t.block_size = 16;
    t.symbols.push_back({"mp_state_ctx", kRam, 0x40, 'B', ".bss"});
    t.mp_state_ctx = kRam;
    t.state.size = 0x40;
    t.state.mem_area = 0x20;
    t.state.area.size = 24;
    t.state.area.gc_alloc_table_start = 0;
    t.state.area.gc_alloc_table_byte_len = 4;
    t.state.area.gc_finaliser_table_start = 8;
    t.state.area.gc_pool_start = 12;
    t.state.area.gc_pool_end = 16;
    t.state.area.gc_collect_table_start = 20;
    t.finalize();
    word(0x20, kRam + 0x40);
    word(0x24, 2);
    word(0x28, kRam + 0x43);
    word(0x2c, kRam + 0x50);
    word(0x30, kRam + 0xd0);
    word(0x34, kRam + 0x44);
    bytes[0x40] = 0x25;           // blocks 0..3: head, head, tail, free
    bytes[0x41] = 0x01;           // block 4 head
    bytes[0x43] = 0x02;           // finaliser: block 1
    bytes[0x44] = 0x11;           // collect: blocks 0 and 4
    word(0x50 + 4, kRam + 0x60);  // block 0 -> block 1
    word(0x60 + 4, kRam + 0x90);  // block 1 -> block 4
  }
  void word(std::uint64_t at, std::uint64_t v) {
    for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  // The bytes as one dump, or with [hole_start, hole_end) left out.
  [[nodiscard]] io::MemoryImage memory(std::uint64_t hole_start = 0,
                                       std::uint64_t hole_end = 0) const {
    io::MemoryImage m;
    if (hole_end <= hole_start) {
      m.add({kRam, bytes, "toy"});
      return m;
    }
    m.add({kRam, {bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(hole_start)}, "toy"});
    m.add({kRam + hole_end,
           {bytes.begin() + static_cast<std::ptrdiff_t>(hole_end), bytes.end()},
           "toy"});
    return m;
  }
  [[nodiscard]] Snapshot decode(const io::MemoryImage& m) const {
    auto s = decode_snapshot(t, m, 0);
    EXPECT_TRUE(s) << (s ? "" : s.error().message());
    return s ? std::move(*s) : Snapshot{};
  }
};

std::vector<TableBit> bits_of(const Snapshot& s, TableBit HeapObject::*bit) {
  std::vector<TableBit> out;
  for (const HeapObject& o : s.objects) out.push_back(o.*bit);
  return out;
}

bool has_diagnostic(const Snapshot& s, std::uint64_t address, const std::string& part) {
  return std::any_of(s.diagnostics.begin(), s.diagnostics.end(), [&](const Diagnostic& d) {
    return d.address == address && d.what.find(part) != std::string::npos;
  });
}

constexpr TableBit kSet = TableBit::set, kClear = TableBit::clear, kUnknown = TableBit::unknown,
                   kAbsent = TableBit::absent;

TEST(BlockTables, ToyHeapBitsAndScan) {
  ToyHeap h;
  const io::MemoryImage m = h.memory();
  Snapshot s = h.decode(m);
  ASSERT_EQ(s.objects.size(), 3u);
  EXPECT_TRUE(s.diagnostics.empty());
  EXPECT_EQ(bits_of(s, &HeapObject::has_finaliser), (std::vector{kClear, kSet, kClear}));
  EXPECT_EQ(bits_of(s, &HeapObject::collect), (std::vector{kSet, kClear, kSet}));
  EXPECT_EQ(bits_of(s, &HeapObject::has_weakref), (std::vector{kAbsent, kAbsent, kAbsent}));

  ObjectGraph g = build_graph(h.t, m, s);
  EXPECT_EQ(std::vector<std::uint32_t>(g.out_edges(0).begin(), g.out_edges(0).end()),
            std::vector<std::uint32_t>{1});
  EXPECT_TRUE(g.out_edges(1).empty());  // not collected: its pointer to block 4 is not followed
  EXPECT_EQ(g.objects_not_scanned, 1u);
  GraphOptions all;
  all.selective_collect = false;
  ObjectGraph g2 = build_graph(h.t, m, s, all);
  EXPECT_EQ(std::vector<std::uint32_t>(g2.out_edges(1).begin(), g2.out_edges(1).end()),
            std::vector<std::uint32_t>{2});

  EXPECT_EQ(report::object_flags_text(s.objects[1]),
            "has finaliser, not scanned by the GC (selective collect)");
  EXPECT_EQ(
      report::table_counts_text(s, h.t),
      "objects with finalisers: 1 (32 bytes)\nnot scanned (selective collect): 1 (32 bytes)\n");

  auto j = nlohmann::json::parse(report::snapshot_json(s, h.t, 0));
  EXPECT_EQ(j["areas"][0]["finaliser_table"], "0x20000043");
  EXPECT_EQ(j["areas"][0]["collect_table"], "0x20000044");
  EXPECT_FALSE(j["areas"][0].contains("weakref_table"));
  EXPECT_EQ(j["objects"][1]["has_finaliser"], true);
  EXPECT_EQ(j["objects"][1]["collect"], false);
  EXPECT_EQ(j["objects"][0]["has_finaliser"], false);
  EXPECT_FALSE(j["objects"][0].contains("has_weakref"));
}

// Which tables exist comes from the target description: without the fields, no tables.
TEST(BlockTables, ToyHeapWithoutTables) {
  ToyHeap h;
  h.t.state.area.gc_finaliser_table_start.reset();
  h.t.state.area.gc_collect_table_start.reset();
  const io::MemoryImage m = h.memory();
  Snapshot s = h.decode(m);
  ASSERT_EQ(s.objects.size(), 3u);
  EXPECT_FALSE(s.areas[0].finaliser_table);
  EXPECT_FALSE(s.areas[0].collect_table);
  EXPECT_EQ(bits_of(s, &HeapObject::has_finaliser), (std::vector{kAbsent, kAbsent, kAbsent}));
  EXPECT_EQ(build_graph(h.t, m, s).out_edges(1).size(), 1u);  // everything is scanned
  EXPECT_EQ(report::table_counts_text(s, h.t), "");
  auto j = nlohmann::json::parse(report::snapshot_json(s, h.t, 0));
  EXPECT_FALSE(j["objects"][1].contains("has_finaliser"));
  EXPECT_FALSE(j["areas"][0].contains("finaliser_table"));
}

// MicroPython's weakref table (MICROPY_PY_WEAKREF, after the finaliser table in 1.28's
// gc_setup_area): the same bit order; the collector scans everything.
TEST(BlockTables, ToyHeapWeakrefTable) {
  ToyHeap h;
  h.t.state.area.gc_weakref_table_start = h.t.state.area.gc_collect_table_start;
  h.t.state.area.gc_collect_table_start.reset();
  const io::MemoryImage m = h.memory();
  Snapshot s = h.decode(m);
  EXPECT_TRUE(s.diagnostics.empty());
  EXPECT_EQ(bits_of(s, &HeapObject::has_weakref), (std::vector{kSet, kClear, kSet}));
  EXPECT_EQ(bits_of(s, &HeapObject::collect), (std::vector{kAbsent, kAbsent, kAbsent}));
  EXPECT_EQ(build_graph(h.t, m, s).objects_not_scanned, 0u);
  EXPECT_EQ(report::object_flags_text(s.objects[0]), "weakly referenced");
  EXPECT_EQ(report::table_counts_text(s, h.t),
            "objects with finalisers: 1 (32 bytes)\nobjects with weak references: 2 (32 bytes)\n");
  auto j = nlohmann::json::parse(report::snapshot_json(s, h.t, 0));
  EXPECT_EQ(j["areas"][0]["weakref_table"], "0x20000044");
  EXPECT_EQ(j["objects"][2]["has_weakref"], true);

  h.bytes[0x44] |= 0x20;  // block 5 (free): gc_free and the sweep clear it
  Snapshot s2 = h.decode(h.memory());
  EXPECT_TRUE(has_diagnostic(s2, kRam + 0x44, "weakref bit set (first: block 5, free)"));
}

TEST(BlockTables, TableBytesNotCapturedAreUnknown) {
  ToyHeap h;
  const io::MemoryImage m = h.memory(0x43, 0x44);  // the FTB byte is missing
  Snapshot s = h.decode(m);
  ASSERT_EQ(s.objects.size(), 3u);
  EXPECT_EQ(bits_of(s, &HeapObject::has_finaliser), (std::vector{kUnknown, kUnknown, kUnknown}));
  EXPECT_EQ(bits_of(s, &HeapObject::collect), (std::vector{kSet, kClear, kSet}));
  EXPECT_TRUE(has_diagnostic(s, kRam + 0x43, "not captured"));
  EXPECT_EQ(report::table_counts_text(s, h.t),
            "objects with finalisers: 0 (0 bytes); 3 objects' bits not captured\n"
            "not scanned (selective collect): 1 (32 bytes)\n");
  auto j = nlohmann::json::parse(report::snapshot_json(s, h.t, 0));
  EXPECT_TRUE(j["objects"][1]["has_finaliser"].is_null());

  // The collect bit unknown: scanned, as a build without the table would.
  const io::MemoryImage m2 = h.memory(0x44, 0x45);
  Snapshot s2 = h.decode(m2);
  EXPECT_EQ(bits_of(s2, &HeapObject::collect), (std::vector{kUnknown, kUnknown, kUnknown}));
  EXPECT_EQ(build_graph(h.t, m2, s2).objects_not_scanned, 0u);
}

TEST(BlockTables, TableAddressNotCaptured) {
  ToyHeap h;
  Snapshot s = h.decode(h.memory(0x28, 0x2c));  // the record's finaliser-table word
  ASSERT_EQ(s.objects.size(), 3u);
  ASSERT_TRUE(s.areas[0].finaliser_table);
  EXPECT_FALSE(s.areas[0].finaliser_table->address);
  EXPECT_EQ(bits_of(s, &HeapObject::has_finaliser), (std::vector{kUnknown, kUnknown, kUnknown}));
  EXPECT_TRUE(has_diagnostic(s, kRam + 0x20, "finaliser table's address"));
}

TEST(BlockTables, TableOverlappingThePoolIsNotRead) {
  ToyHeap h;
  h.word(0x28, kRam + 0x50);  // the finaliser table at the pool's start
  h.word(0x34, kRam + 0x41);  // the collect table inside the allocation table
  Snapshot s = h.decode(h.memory());
  ASSERT_EQ(s.objects.size(), 3u);
  EXPECT_EQ(s.totals.heads, 3u);
  EXPECT_EQ(bits_of(s, &HeapObject::has_finaliser), (std::vector{kUnknown, kUnknown, kUnknown}));
  EXPECT_EQ(bits_of(s, &HeapObject::collect), (std::vector{kUnknown, kUnknown, kUnknown}));
  EXPECT_TRUE(has_diagnostic(s, kRam + 0x50, "overlaps the pool"));
  EXPECT_TRUE(has_diagnostic(s, kRam + 0x41, "overlaps the allocation table"));

  ToyHeap twice;
  twice.word(0x34, kRam + 0x43);  // both tables at one address
  Snapshot s2 = twice.decode(twice.memory());
  EXPECT_EQ(bits_of(s2, &HeapObject::has_finaliser), (std::vector{kClear, kSet, kClear}));
  EXPECT_EQ(bits_of(s2, &HeapObject::collect), (std::vector{kUnknown, kUnknown, kUnknown}));
  EXPECT_TRUE(has_diagnostic(s2, kRam + 0x43, "overlaps the finaliser"));
}

// gc.c clears a finaliser bit when it frees the block: a bit on a free or tail block means the
// tables disagree. Stale collect bits are normal in CircuitPython and not reported.
TEST(BlockTables, FinaliserBitOffAHeadIsReported) {
  ToyHeap h;
  h.bytes[0x43] = 0x02 | 0x08 | 0x04;  // blocks 3 (free) and 2 (tail) too
  h.bytes[0x44] = 0x11 | 0x80;         // block 7 (free): stale
  Snapshot s = h.decode(h.memory());
  ASSERT_EQ(s.objects.size(), 3u);
  EXPECT_EQ(bits_of(s, &HeapObject::has_finaliser), (std::vector{kClear, kSet, kClear}));
  ASSERT_EQ(s.diagnostics.size(), 1u);
  EXPECT_EQ(s.diagnostics[0].address, kRam + 0x43);
  EXPECT_NE(s.diagnostics[0].what.find("2 blocks"), std::string::npos) << s.diagnostics[0].what;
  EXPECT_NE(s.diagnostics[0].what.find("block 2, a tail"), std::string::npos)
      << s.diagnostics[0].what;
}

}  // namespace
}  // namespace mpheap::heap
