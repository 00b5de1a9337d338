// The map/nm path on real builds: symbols, regions, ROM qstrs, and the struct layouts the
// heuristics find in the fixtures' RAM dumps, checked against the fixture READMEs (which
// state what gdb read with the ELF: addresses of mp_state_ctx, heap areas and last_pool).
#include <gtest/gtest.h>

#include "mpheap/io/memory_image.h"
#include "mpheap/target/from_map.h"
#include "mpheap/target/layout_heuristics.h"
#include "mpheap/target/qstr_hash.h"
#include "mpheap/target/target_json.h"
#include "trace/test_util.h"

namespace mpheap::target {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

Target load(const std::string& dir, bool map, bool nm, const std::string& qstrs) {
  std::string map_text = map ? read_file(data_path(dir + "/firmware.map")) : "";
  std::string nm_text = nm ? read_file(data_path(dir + "/firmware.nm")) : "";
  std::string q_text = qstrs.empty() ? "" : read_file(data_path(dir + "/" + qstrs));
  auto t = read_map_target(map_text, "firmware.map", nm_text, "firmware.nm", q_text, qstrs);
  EXPECT_TRUE(t) << (t ? "" : t.error().message());
  return t ? *t : Target{};
}

io::MemoryImage image(const std::string& spec) {
  io::MemoryImage img;
  auto placed = io::parse_placed_file(spec);
  EXPECT_TRUE(placed);
  auto range = io::load_placed_file(*placed);
  EXPECT_TRUE(range) << (range ? "" : range.error().message());
  if (range) img.add(std::move(*range));
  return img;
}

TEST(QstrHash, MatchesFixtureHashes) {
  EXPECT_EQ(qstr_hash("__dir__", 2), 0x8f7aU);  // qstr_static.txt: "2 8f7a 7 __dir__"
  EXPECT_EQ(qstr_hash("", 2), 5381U);           // "1 5381 0 "
}

TEST(MapTarget, MicrobitMapAndNm) {
  Target t = load("qemu-microbit", true, true, "qstr_static.txt");
  EXPECT_EQ(t.word_size, 4u);
  ASSERT_TRUE(t.mp_state_ctx);
  EXPECT_EQ(*t.mp_state_ctx, 0x20000010u);
  EXPECT_EQ(t.state.size, 676u);
  const Symbol* heap = t.find_symbol("gc_heap");
  ASSERT_NE(heap, nullptr);
  EXPECT_EQ(heap->address, 0x2000031cu);
  EXPECT_EQ(heap->size, 0x2000u);
  EXPECT_EQ(t.describe(0x20000034), "mp_state_ctx+36");
  ASSERT_NE(t.find_symbol("_estack"), nullptr);
  EXPECT_EQ(t.find_symbol("_estack")->address, 0x20004000u);
  bool ram = false;
  for (const MemoryRegion& r : t.regions)
    if (r.name == "RAM")
      ram = r.start == 0x20000000 && r.end == 0x20004000 && r.kind == RegionKind::ram;
  EXPECT_TRUE(ram);
  ASSERT_EQ(t.rom_qstrs.size(), 653u);
  EXPECT_EQ(t.rom_qstrs[2], "__dir__");
  EXPECT_EQ(t.rom_qstrs[3], "\n");
}

TEST(MapTarget, MapAloneKnowsSizesOfDataSectionSymbols) {
  Target t = load("qemu-microbit", true, false, "");
  ASSERT_TRUE(t.mp_state_ctx);
  EXPECT_EQ(*t.mp_state_ctx, 0x20000010u);
  EXPECT_EQ(t.state.size, 0x2a4u);  // from the input section .bss.mp_state_ctx
}

TEST(MapTarget, BareAndColumnQstrListsAgree) {
  auto bare = parse_qstr_list(read_file(data_path("qemu-microbit/rom_qstrs.txt")), "rom_qstrs.txt");
  auto cols =
      parse_qstr_list(read_file(data_path("qemu-microbit/qstr_static.txt")), "qstr_static.txt");
  ASSERT_TRUE(bare) << bare.error().message();
  ASSERT_TRUE(cols) << cols.error().message();
  EXPECT_EQ(*bare, *cols);
  auto unix = parse_qstr_list(read_file(data_path("unix-x64/rom_qstrs.txt")), "rom_qstrs.txt");
  ASSERT_TRUE(unix) << unix.error().message();
  EXPECT_EQ(unix->size(), 711u);  // decimal hashes
}

TEST(MapTarget, MicrobitLayoutFromRamDump) {
  Target t = load("qemu-microbit", true, true, "qstr_static.txt");
  auto img = image(data_path("qemu-microbit/snap2_ram.bin") + "@0x20000000");
  auto f = infer_layout(t, img, std::nullopt);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->load_bias, 0u);
  EXPECT_EQ(t.block_size, 16u);
  EXPECT_EQ(t.state.mem_area, 376u);  // README: mem @+364; area follows its three size_t counters
  ASSERT_EQ(f->areas.size(), 1u);
  EXPECT_EQ(f->areas[0].alloc_table, 0x2000031cu);
  EXPECT_EQ(f->areas[0].alloc_table_bytes, 124u);
  EXPECT_EQ(f->areas[0].finaliser_table, 0x20000399u);
  EXPECT_EQ(f->areas[0].pool_start, 0x20000410u);
  EXPECT_EQ(f->areas[0].pool_end, 0x20002310u);
  EXPECT_EQ(f->areas[0].blocks(), 496u);
  ASSERT_TRUE(t.state.vm_last_pool);
  EXPECT_EQ(*t.mp_state_ctx + *t.state.vm_last_pool, 0x20000034u);  // &mp_state_ctx.vm.last_pool
  EXPECT_EQ(f->last_pool, 0x200008f0u);
  EXPECT_TRUE(t.qstr_pool.hashes && t.qstr_pool.lengths);
  EXPECT_EQ(t.qstr_pool.hash_bytes, 2u);
}

TEST(MapTarget, SplitHeapThreeAreas) {
  Target t = load("qemu-mps2-splitheap", true, true, "rom_qstrs.txt");
  auto img = image(data_path("qemu-mps2-splitheap/snap1_ram.bin") + "@0x187454");
  auto f = infer_layout(t, img, std::nullopt);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(*t.mp_state_ctx, 0x1874ecu);
  EXPECT_EQ(t.state.mem_area, 384u);
  EXPECT_EQ(t.state.area.next, 0u);
  ASSERT_EQ(f->areas.size(), 3u);
  EXPECT_EQ(f->areas[0].record, 0x18766cu);
  EXPECT_EQ(f->areas[0].pool_start, 0x187a70u);
  EXPECT_EQ(f->areas[0].pool_end, 0x18b8f0u);
  EXPECT_EQ(f->areas[1].record, 0x18b8f4u);
  EXPECT_EQ(f->areas[1].alloc_table, 0x18b914u);
  EXPECT_EQ(f->areas[1].alloc_table_bytes, 124u);
  EXPECT_EQ(f->areas[2].pool_start, 0x18dc30u);
  EXPECT_EQ(f->areas[2].pool_end, 0x1958f0u);
  EXPECT_EQ(f->areas[0].blocks() + f->areas[1].blocks() + f->areas[2].blocks(), 3492u);
  EXPECT_EQ(f->last_pool, 0x17b158u);  // mp_qstr_frozen_const_pool: no pool in the heap
  ASSERT_TRUE(t.state.vm_dict_main);
  EXPECT_EQ(*t.state.vm_dict_main, 92u);
}

TEST(MapTarget, UnixPieNeedsLoadBiasFromCtxDump) {
  Target t = load("unix-x64", false, true, "rom_qstrs.txt");
  EXPECT_EQ(t.word_size, 8u);
  io::MemoryImage img;
  for (const char* spec :
       {"unix-x64/snap1_mp_state_ctx.bin@0x5555555f2440", "unix-x64/snap1_heap.bin@0x5555555f32d0",
        "unix-x64/snap1_rw_segment.bin@0x5555555e7130"}) {
    auto placed = io::parse_placed_file(data_path(spec));
    ASSERT_TRUE(placed);
    auto r = io::load_placed_file(*placed);
    ASSERT_TRUE(r);
    img.add(std::move(*r));
  }
  auto f = infer_layout(t, img, std::nullopt);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->load_bias, 0x555555554000u);
  EXPECT_EQ(t.block_size, 32u);
  ASSERT_EQ(f->areas.size(), 1u);
  EXPECT_EQ(f->areas[0].alloc_table, 0x5555555f32d0u);
  EXPECT_EQ(f->areas[0].alloc_table_bytes, 505u);
  EXPECT_EQ(f->areas[0].finaliser_table, 0x5555555f34cau);
  EXPECT_EQ(f->areas[0].pool_start, 0x5555555f3640u);
  EXPECT_EQ(f->areas[0].pool_end, 0x5555556032c0u);
  EXPECT_EQ(f->last_pool, 0x5555555f4640u);
  ASSERT_TRUE(t.state.vm_dict_main);
  EXPECT_EQ(*t.state.vm_dict_main, 432u);  // README: &vm.dict_main = mp_state_ctx+432
}

TEST(MapTarget, CircuitPythonSelectiveCollectTable) {
  Target t = load("circuitpython-unix", false, true, "rom_qstrs.txt");
  io::MemoryImage img;
  for (const char* spec : {"circuitpython-unix/snap1_mp_state_ctx.bin@0x5555555de3a0",
                           "circuitpython-unix/snap1_heap.bin@0x5555555df2d0"}) {
    auto r = io::load_placed_file(*io::parse_placed_file(data_path(spec)));
    ASSERT_TRUE(r);
    img.add(std::move(*r));
  }
  auto f = infer_layout(t, img, std::nullopt);
  ASSERT_TRUE(f) << f.error().message();
  ASSERT_EQ(f->areas.size(), 1u);
  EXPECT_EQ(f->areas[0].alloc_table_bytes, 503u);
  EXPECT_EQ(f->areas[0].finaliser_table, 0x5555555df4c8u);
  EXPECT_EQ(f->areas[0].collect_table, 0x5555555df5c4u);
  EXPECT_FALSE(f->areas[0].weakref_table);
  EXPECT_EQ(f->areas[0].pool_start, 0x5555555df740u);
  EXPECT_EQ(f->last_pool, 0x5555555e0780u);
  EXPECT_EQ(*t.state.vm_dict_main, 464u);
}

TEST(MapTarget, JsonRoundTrip) {
  Target t = load("qemu-microbit", true, true, "qstr_static.txt");
  auto img = image(data_path("qemu-microbit/snap2_ram.bin") + "@0x20000000");
  ASSERT_TRUE(infer_layout(t, img, std::nullopt));
  std::string json = to_json(t);
  auto back = target_from_json(json, "t.json");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(to_json(*back), json);
  EXPECT_EQ(back->state.mem_area, t.state.mem_area);
  EXPECT_EQ(back->symbols.size(), t.symbols.size());
  EXPECT_EQ(back->rom_qstrs, t.rom_qstrs);
}

TEST(MapTarget, BadInputs) {
  auto lld = parse_gnu_ld_map(
      "             VMA              LMA     Size Align Out     In      Symbol\n"
      "               0                0      1c0     1 . = SIZEOF_HEADERS\n",
      "lld.map");
  ASSERT_FALSE(lld);
  EXPECT_NE(lld.error().what.find("a map of another linker?"), std::string::npos);
  auto nm = parse_nm("20000010 000002a4 B mp_state_ctx\nthis is not nm\n", "x.nm");
  ASSERT_FALSE(nm);
  EXPECT_EQ(nm.error().line, 2u);
  auto other = read_map_target("", "", "00001000 T main\n", "other.nm", "", "");
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().what.find("no symbol mp_state_ctx"), std::string::npos);
  auto badq = parse_qstr_list("0 0 0 \n1 1505 0 \n2 8f7a 6 __dir__\n", "q.txt");
  ASSERT_FALSE(badq);
  EXPECT_EQ(badq.error().line, 3u);
  auto json = target_from_json("{\"format\": \"mpheap-target\", \"version\": 1}", "t.json");
  ASSERT_FALSE(json);
  EXPECT_NE(json.error().what.find("word_size"), std::string::npos);
  Target t = load("qemu-microbit", true, true, "");
  io::MemoryImage wrong;
  wrong.add(io::MemoryRange{0x30000000, std::vector<std::uint8_t>(64, 0), "x"});
  auto f = infer_layout(t, wrong, std::nullopt);
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().what.find("no dump covers mp_state_ctx"), std::string::npos);
}

}  // namespace
}  // namespace mpheap::target
