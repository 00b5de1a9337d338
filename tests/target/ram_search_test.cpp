// The heap found in RAM dumps alone (no image, no symbols), checked against the geometry the
// fixtures' READMEs state; dumps of the wrong word size, junk, a dump from another firmware and
// a corrupted image give "not found" with what was tried, never a wrong heap.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "cli/cli_runner.h"
#include "mpheap/io/firmware_image.h"
#include "mpheap/target/from_image.h"
#include "mpheap/target/ram_heap_search.h"
#include "trace/test_util.h"

namespace mpheap::target {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

constexpr const char* kDebianHex = mpheap::testing::kDebianMicrobitHex;

// Fixture files placed at their addresses ("dir/file@0xADDR" relative to tests/data).
io::MemoryImage dumps(std::initializer_list<std::string> specs) {
  io::MemoryImage ram;
  for (const std::string& spec : specs) {
    auto placed = io::parse_placed_file(data_path(spec));
    EXPECT_TRUE(placed) << spec;
    if (!placed) continue;
    auto range = io::load_placed_file(*placed);
    EXPECT_TRUE(range) << spec;
    if (range) ram.add(std::move(*range));
  }
  return ram;
}

io::MemoryImage bytes_at(std::uint64_t address, std::vector<std::uint8_t> bytes) {
  io::MemoryImage ram;
  ram.add(io::MemoryRange{address, std::move(bytes), "test"});
  return ram;
}

struct Area {
  std::uint64_t record, alloc_table, alloc_table_bytes;
  std::optional<std::uint64_t> finaliser, collect;
  std::uint64_t pool_start, pool_end, next;
};

void expect_area(const HeapAreaBounds& got, const Area& want) {
  EXPECT_EQ(got.record, want.record);
  EXPECT_EQ(got.alloc_table, want.alloc_table);
  EXPECT_EQ(got.alloc_table_bytes, want.alloc_table_bytes);
  EXPECT_EQ(got.finaliser_table, want.finaliser);
  EXPECT_EQ(got.collect_table, want.collect);
  EXPECT_FALSE(got.weakref_table);
  EXPECT_EQ(got.pool_start, want.pool_start);
  EXPECT_EQ(got.pool_end, want.pool_end);
  EXPECT_EQ(got.next, want.next);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// unix-x64/README.md: 64-bit, 32-byte blocks, ATB 0x5555555f32d0 (505 bytes = 2020 blocks),
// FTB 0x5555555f34ca, pool 0x5555555f3640..0x5555556032c0, no weakref table, no split heap.
// The dumps are heap.bin (ATB start .. pool end) and mp_state_ctx.bin at 0x5555555f2440, where
// mem.area is at +1272 (firmware.ptype.txt: mem @+1248, area @+24 in it).
TEST(RamSearch, UnixX64BothSnapshots) {
  for (const char* snap : {"snap1", "snap2"}) {
    SCOPED_TRACE(snap);
    auto ram = dumps({fmt::format("unix-x64/{}_heap.bin@0x5555555f32d0", snap),
                      fmt::format("unix-x64/{}_mp_state_ctx.bin@0x5555555f2440", snap)});
    auto f = find_heap_areas_in_ram(ram, 8, true);
    ASSERT_TRUE(f) << f.error().message();
    EXPECT_EQ(f->block_size, 32u);
    EXPECT_FALSE(f->split);
    EXPECT_EQ(f->tables, std::vector<std::string>{"finaliser"});
    ASSERT_EQ(f->areas.size(), 1u);
    expect_area(f->areas[0], {0x5555555f2440 + 1272, 0x5555555f32d0, 505, 0x5555555f34ca,
                              std::nullopt, 0x5555555f3640, 0x5555556032c0, 0});
    EXPECT_EQ(f->areas[0].blocks(), 2020u);
    for (const std::string& e : f->evidence) std::cout << "  " << e << "\n";
  }
}

// qemu-microbit/README.md: 32-bit, 16-byte blocks, ATB 0x2000031c (124 bytes, 496 blocks),
// FTB 0x20000399, pool 0x20000410..0x20002310, one area; mp_state_ctx 0x20000010 with mem at
// +364 and area at +12 in mem (firmware.ptype.txt).
TEST(RamSearch, QemuMicrobitSnapshotsAndEveryDumpOfTheSequence) {
  const Area want{0x20000010 + 364 + 12, 0x2000031c, 124,        0x20000399,
                  std::nullopt,          0x20000410, 0x20002310, 0};
  for (const char* snap : {"snap1", "snap2"}) {
    SCOPED_TRACE(snap);
    auto f = find_heap_areas_in_ram(
        dumps({fmt::format("qemu-microbit/{}_ram.bin@0x20000000", snap)}), 4, true);
    ASSERT_TRUE(f) << f.error().message();
    EXPECT_EQ(f->block_size, 16u);
    EXPECT_FALSE(f->split);
    EXPECT_EQ(f->tables, std::vector<std::string>{"finaliser"});
    ASSERT_EQ(f->areas.size(), 1u);
    expect_area(f->areas[0], want);
  }
  // ram_seq.bin: 120 whole-RAM dumps taken inside the GC hook, the heap mid-change.
  std::string seq = read_file(data_path("qemu-microbit/ram_seq.bin"));
  ASSERT_EQ(seq.size(), 120u * 16384u);
  for (std::size_t k = 0; k < 120; ++k) {
    SCOPED_TRACE(fmt::format("dump {}", k + 1));
    auto ram = bytes_at(0x20000000, std::vector<std::uint8_t>(seq.begin() + k * 16384,
                                                              seq.begin() + (k + 1) * 16384));
    auto f = find_heap_areas_in_ram(ram, 4, true);
    ASSERT_TRUE(f) << f.error().message();
    ASSERT_EQ(f->areas.size(), 1u);
    expect_area(f->areas[0], want);
  }
}

// qemu-mps2-splitheap/README.md, "Heap areas": three areas chained by `next` (the first field of
// each 32-byte struct), 16-byte blocks, FTBs, the same in all snapshots.
TEST(RamSearch, QemuMps2SplitHeapThreeAreas) {
  for (const char* snap : {"snap1", "snap2", "snap3"}) {
    SCOPED_TRACE(snap);
    auto f = find_heap_areas_in_ram(
        dumps({fmt::format("qemu-mps2-splitheap/{}_ram.bin@0x187454", snap)}), 4, true);
    ASSERT_TRUE(f) << f.error().message();
    EXPECT_EQ(f->block_size, 16u);
    EXPECT_TRUE(f->split);
    EXPECT_EQ(f->tables, std::vector<std::string>{"finaliser"});
    ASSERT_EQ(f->areas.size(), 3u);
    expect_area(f->areas[0],
                {0x18766c, 0x1878f4, 250, 0x1879ef, std::nullopt, 0x187a70, 0x18b8f0, 0x18b8f4});
    expect_area(f->areas[1],
                {0x18b8f4, 0x18b914, 124, 0x18b991, std::nullopt, 0x18b9f0, 0x18d8f0, 0x18d8f4});
    expect_area(f->areas[2],
                {0x18d8f4, 0x18d914, 499, 0x18db08, std::nullopt, 0x18dc30, 0x1958f0, 0});
    EXPECT_EQ(f->areas[0].blocks(), 1000u);
    EXPECT_EQ(f->areas[1].blocks(), 496u);
    EXPECT_EQ(f->areas[2].blocks(), 1996u);
    if (std::string(snap) == "snap1")
      for (const std::string& e : f->evidence) std::cout << "  " << e << "\n";
  }
}

// circuitpython-unix/README.md: 64-bit, 32-byte blocks, ATB 0x5555555df2d0 (503 bytes = 2012
// blocks), FTB 0x5555555df4c8, selective-collect table 0x5555555df5c4, pool
// 0x5555555df740..0x5555555ef2c0; mp_state_ctx 0x5555555de3a0 with area at +1312.
TEST(RamSearch, CircuitPythonUnixSelectiveCollectTable) {
  for (const char* snap : {"snap1", "snap2"}) {
    SCOPED_TRACE(snap);
    auto ram = dumps({fmt::format("circuitpython-unix/{}_heap.bin@0x5555555df2d0", snap),
                      fmt::format("circuitpython-unix/{}_mp_state_ctx.bin@0x5555555de3a0", snap)});
    auto f = find_heap_areas_in_ram(ram, 8, true);
    ASSERT_TRUE(f) << f.error().message();
    EXPECT_EQ(f->block_size, 32u);
    EXPECT_FALSE(f->split);
    EXPECT_EQ(f->tables, (std::vector<std::string>{"finaliser", "selective-collect"}));
    ASSERT_EQ(f->areas.size(), 1u);
    expect_area(f->areas[0], {0x5555555de3a0 + 1312, 0x5555555df2d0, 503, 0x5555555df4c8,
                              0x5555555df5c4, 0x5555555df740, 0x5555555ef2c0, 0});
  }
}

// microbit-debian/README.md: 16-byte blocks, pool from 0x200004a0, 10048 bytes = 628 blocks,
// allocation table at 0x200003e0 (628 / 4 = 157 bytes). It does not say which other tables
// exist, so only the geometry is checked, in every snapshot of the three workloads.
TEST(RamSearch, MicrobitDebianEverySnapshot) {
  const std::pair<const char*, int> folders[] = {{"named", 3}, {"alloc", 4}, {"sequence", 9}};
  for (const auto& [folder, count] : folders) {
    for (int i = 0; i < count; ++i) {
      SCOPED_TRACE(fmt::format("{} snap{}", folder, i));
      auto f = find_heap_areas_in_ram(
          dumps({fmt::format("microbit-debian/{}/snap{}_ram.bin@0x20000000", folder, i)}), 4, true);
      ASSERT_TRUE(f) << f.error().message();
      EXPECT_EQ(f->block_size, 16u);
      ASSERT_EQ(f->areas.size(), 1u);
      const HeapAreaBounds& a = f->areas[0];
      EXPECT_EQ(a.alloc_table, 0x200003e0u);
      EXPECT_EQ(a.alloc_table_bytes, 157u);
      EXPECT_EQ(a.pool_start, 0x200004a0u);
      EXPECT_EQ(a.pool_end, 0x200004a0u + 10048u);
      EXPECT_EQ(a.blocks(), 628u);
    }
  }
}

// A 32-bit dump read as 64-bit words and the other way round: no pointer fits, so not found.
TEST(RamSearch, WrongWordSizeIsNotFound) {
  auto microbit = dumps({"qemu-microbit/snap1_ram.bin@0x20000000"});
  auto f = find_heap_areas_in_ram(microbit, 8, true);
  ASSERT_FALSE(f);
  EXPECT_TRUE(contains(f.error().what, "no heap area record found in RAM")) << f.error().what;
  EXPECT_TRUE(contains(f.error().what, "scanned 0x20000000..0x20004000 (16384 bytes) as 64-bit"))
      << f.error().what;
  EXPECT_TRUE(contains(f.error().what, "is the word size right?"));
  auto split = dumps({"qemu-mps2-splitheap/snap1_ram.bin@0x187454"});
  EXPECT_FALSE(find_heap_areas_in_ram(split, 8, true));
  auto unix = dumps(
      {"unix-x64/snap1_heap.bin@0x5555555f32d0", "unix-x64/snap1_mp_state_ctx.bin@0x5555555f2440"});
  auto g = find_heap_areas_in_ram(unix, 4, true);
  ASSERT_FALSE(g);
  EXPECT_TRUE(contains(g.error().what, "as 32-bit little endian words")) << g.error().what;
  // Big endian is a different word order: nothing fits either.
  EXPECT_FALSE(find_heap_areas_in_ram(microbit, 4, false));
  EXPECT_FALSE(find_heap_areas_in_ram(unix, 8, false));
}

TEST(RamSearch, RandomAndZeroBytesAreNotFound) {
  std::mt19937 rng(8);
  for (std::uint32_t word : {4u, 8u}) {
    for (int round = 0; round < 8; ++round) {
      std::vector<std::uint8_t> junk(16384);
      for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
      // Pointers into the dump itself make the junk more like RAM.
      if (round % 2 == 1)
        for (std::size_t i = 0; i + 4 <= junk.size(); i += 16) {
          std::uint32_t p = 0x20000000u + static_cast<std::uint32_t>(rng() % 16384);
          std::memcpy(&junk[i], &p, 4);
        }
      auto f = find_heap_areas_in_ram(bytes_at(0x20000000, junk), word, true);
      EXPECT_FALSE(f) << "round " << round;
    }
    auto zero =
        find_heap_areas_in_ram(bytes_at(0x20000000, std::vector<std::uint8_t>(16384)), word, true);
    ASSERT_FALSE(zero);
    EXPECT_TRUE(contains(zero.error().what, "0 of ")) << zero.error().what;
  }
  EXPECT_FALSE(find_heap_areas_in_ram(io::MemoryImage{}, 4, true));
  EXPECT_FALSE(find_heap_areas_in_ram(bytes_at(0, {1, 2, 3}), 4, true));
  EXPECT_FALSE(find_heap_areas_in_ram(bytes_at(0x1000, std::vector<std::uint8_t>(64)), 3, true));
}

// Hand-made 32-bit RAM at 0x1000: records {atb, len, pool start, pool end} of 64 blocks of 16
// bytes, with the allocation table right before the pool.
struct HandRam {
  std::vector<std::uint8_t> bytes = std::vector<std::uint8_t>(0x3000, 0);
  void word(std::uint32_t address, std::uint32_t v) {
    std::memcpy(&bytes[address - 0x1000], &v, 4);
  }
  void record(std::uint32_t at, std::uint32_t atb) {
    word(at, atb);
    word(at + 4, 16);
    word(at + 8, atb + 32);
    word(at + 12, atb + 32 + 1024);
  }
  io::MemoryImage image() const { return bytes_at(0x1000, bytes); }
};

TEST(RamSearch, TwoDifferentRecordsAreAmbiguousNotPicked) {
  HandRam ram;
  ram.record(0x1010, 0x1400);
  EXPECT_TRUE(find_heap_areas_in_ram(ram.image(), 4, true));
  ram.record(0x1040, 0x2000);
  auto f = find_heap_areas_in_ram(ram.image(), 4, true);
  ASSERT_FALSE(f);
  EXPECT_TRUE(contains(f.error().what, "heap area record ambiguous")) << f.error().what;
  EXPECT_TRUE(contains(f.error().what, "2 different records fit")) << f.error().what;
  EXPECT_TRUE(contains(f.error().what, "allocation table 0x1400")) << f.error().what;
  EXPECT_TRUE(contains(f.error().what, "allocation table 0x2000")) << f.error().what;
}

TEST(RamSearch, CopiesAndRecordsInsideAPoolDoNotConfuse) {
  HandRam ram;
  ram.record(0x1010, 0x1400);
  ram.record(0x1080, 0x1400);  // the same record again (a copy): the lower one is taken
  ram.record(0x1500, 0x2000);  // inside the first heap's pool 0x1420..0x1820
  // Before the 0x1500 record is in an allocated block of that heap it cannot be told apart.
  auto f = find_heap_areas_in_ram(ram.image(), 4, true);
  ASSERT_FALSE(f);
  EXPECT_TRUE(contains(f.error().what, "heap area record ambiguous")) << f.error().what;
  // Blocks 13 (head) and 14 (tail, 0x1500..0x1510) allocated: the record there is heap data.
  ram.bytes[0x1403 - 0x1000] = 0x24;
  f = find_heap_areas_in_ram(ram.image(), 4, true);
  ASSERT_TRUE(f) << f.error().message();
  ASSERT_EQ(f->areas.size(), 1u);
  EXPECT_EQ(f->areas[0].record, 0x1010u);
  EXPECT_EQ(f->areas[0].pool_start, 0x1420u);
  EXPECT_EQ(f->block_size, 16u);
  EXPECT_TRUE(f->tables.empty());
  std::string evidence;
  for (const std::string& e : f->evidence) evidence += e + "\n";
  EXPECT_TRUE(contains(evidence, "also at 0x1080 (a copy)")) << evidence;
  EXPECT_TRUE(contains(evidence, "0x1500 lies in an allocated block of the pool 0x1420..0x1820"))
      << evidence;
}

TEST(RamSearch, AnImpossibleAllocationTableRulesARecordOut) {
  HandRam ram;
  ram.record(0x1010, 0x1400);
  ram.record(0x1040, 0x2000);
  ram.bytes[0x2000 - 0x1000] = 0x08;  // block 1 is a tail after the free block 0
  auto f = find_heap_areas_in_ram(ram.image(), 4, true);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->areas[0].record, 0x1010u);
  std::string evidence;
  for (const std::string& e : f->evidence) evidence += e + "\n";
  EXPECT_TRUE(contains(evidence,
                       "0x1040 is not the heap's: its allocation table has a tail "
                       "block after a free one (block 1)"))
      << evidence;
}

// A chance record elsewhere whose pool spans the real record must not hide it: both stay and
// the answer is "ambiguous", not the chance one.
TEST(RamSearch, AChanceRecordSpanningTheRealOneIsAmbiguous) {
  HandRam ram;
  ram.record(0x1010, 0x1400);
  ram.word(0x3000, 0x1000);  // allocation table 0x1000 (8 bytes = 32 blocks)
  ram.word(0x3004, 8);
  ram.word(0x3008, 0x1008);  // pool 0x1008..0x1208 (32 blocks of 16 bytes) holds 0x1010
  ram.word(0x300c, 0x1208);
  auto f = find_heap_areas_in_ram(ram.image(), 4, true);
  ASSERT_FALSE(f);
  EXPECT_TRUE(contains(f.error().what, "2 different records fit")) << f.error().what;
}

TEST(RamSearch, OverlappingDumpsAreNotTwoRecords) {
  HandRam ram;
  ram.record(0x1010, 0x1400);
  io::MemoryImage twice = ram.image();
  twice.add(io::MemoryRange{
      0x1000, std::vector<std::uint8_t>(ram.bytes.begin(), ram.bytes.begin() + 0x100), "again"});
  auto f = find_heap_areas_in_ram(twice, 4, true);
  ASSERT_TRUE(f) << f.error().message();
  for (const std::string& e : f->evidence) EXPECT_FALSE(contains(e, "a copy")) << e;
}

TEST(RamSearch, TablesAndPoolMustBeLaidOutAsGcInitDoes) {
  HandRam ram;
  // Pool 1024 bytes after the table: 4 blocks per table byte, but not where gc_init puts it.
  ram.word(0x1010, 0x1400);
  ram.word(0x1014, 16);
  ram.word(0x1018, 0x1400 + 1024);
  ram.word(0x101c, 0x1400 + 2048);
  auto f = find_heap_areas_in_ram(ram.image(), 4, true);
  ASSERT_FALSE(f);
  EXPECT_TRUE(contains(f.error().what, "1 whose tables and pool are not laid out as gc_init"))
      << f.error().what;
}

// A dump from another firmware next to Debian's micro:bit image: the RAM holds a heap, but
// nothing in it leads to the image's qstr pools, so the image and the dump do not match.
class DebianFirmwareRam : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kDebianHex))
      GTEST_SKIP() << kDebianHex
                   << " is not installed: apt-get install firmware-microbit-micropython";
    auto image = io::load_firmware_image(kDebianHex, std::nullopt);
    ASSERT_TRUE(image) << image.error().message();
    flash = std::move(image->image);
  }
  io::MemoryImage flash;
};

TEST_F(DebianFirmwareRam, DumpOfAnotherFirmwareIsNotFound) {
  auto debian = dumps({"microbit-debian/named/snap1_ram.bin@0x20000000"});
  auto own = read_image_target(flash, &debian);
  ASSERT_TRUE(own) << own.error().message();
  for (const char* spec :
       {"qemu-microbit/snap1_ram.bin@0x20000000", "qemu-microbit/snap2_ram.bin@0x20000000",
        "qemu-mps2-splitheap/snap1_ram.bin@0x187454"}) {
    SCOPED_TRACE(spec);
    auto ram = dumps({spec});
    auto f = read_image_target(flash, &ram, "firmware.hex");
    ASSERT_FALSE(f) << "claimed a heap at 0x" << std::hex << f->layout->areas[0].pool_start;
    EXPECT_TRUE(contains(f.error().what, "the RAM dumps do not belong to firmware.hex"))
        << f.error().what;
    EXPECT_TRUE(contains(f.error().what, "the image's ROM qstr pools (0x2f9d0)")) << f.error().what;
  }
  // A 64-bit dump: no record at all as 32-bit words.
  auto unix = dumps(
      {"unix-x64/snap1_heap.bin@0x5555555f32d0", "unix-x64/snap1_mp_state_ctx.bin@0x5555555f2440"});
  auto g = read_image_target(flash, &unix);
  ASSERT_FALSE(g);
  EXPECT_TRUE(contains(g.error().what, "no heap area record found in RAM")) << g.error().what;
}

TEST_F(DebianFirmwareRam, CorruptedImageIsNotFound) {
  // Flip bytes of the ROM qstr pool at 0x2f9d0 (744 string pointers after a 16-byte header):
  // its strings no longer verify, so there is no pool to start from.
  const std::uint64_t pool = 0x2f9d0;
  std::vector<std::uint8_t> bytes = flash.ranges()[0].bytes;
  ASSERT_GT(bytes.size(), pool + 16 + 744 * 4);
  for (std::uint64_t a = pool + 16; a < pool + 16 + 744 * 4; a += 97) bytes[a] ^= 0x5a;
  io::MemoryImage corrupted;
  corrupted.add(io::MemoryRange{flash.ranges()[0].address, bytes, "corrupted"});
  auto ram = dumps({"microbit-debian/named/snap1_ram.bin@0x20000000"});
  for (const io::MemoryImage* r : std::vector<const io::MemoryImage*>{nullptr, &ram}) {
    auto f = read_image_target(corrupted, r, "corrupted.hex");
    ASSERT_FALSE(f);
    EXPECT_TRUE(contains(f.error().what, "no ROM qstr pool found")) << f.error().what;
    EXPECT_TRUE(contains(f.error().what, "looked at every word-aligned address")) << f.error().what;
  }
  // The qstr strings themselves (the text the pointers lead to) corrupted instead.
  std::vector<std::uint8_t> text = flash.ranges()[0].bytes;
  for (std::uint64_t i = 0; i < 744; i += 5) {
    std::uint32_t p = 0;
    std::memcpy(&p, &text[pool + 16 + 4 * i], 4);
    if (p + 4 < text.size()) text[p + 3] ^= 0x20;  // a character after 1 hash and 1 length byte
  }
  io::MemoryImage bad_text;
  bad_text.add(io::MemoryRange{flash.ranges()[0].address, text, "corrupted"});
  auto g = read_image_target(bad_text, &ram, "corrupted.hex");
  ASSERT_FALSE(g);
  EXPECT_TRUE(contains(g.error().what, "no ROM qstr pool found")) << g.error().what;
}

// The same search from the image side: Debian's image with its own dump finds the area the RAM
// search finds.
TEST_F(DebianFirmwareRam, ImageSideUsesTheSameSearch) {
  auto ram = dumps({"microbit-debian/alloc/snap2_ram.bin@0x20000000"});
  auto alone = find_heap_areas_in_ram(ram, 4, true);
  ASSERT_TRUE(alone) << alone.error().message();
  auto f = read_image_target(flash, &ram);
  ASSERT_TRUE(f) << f.error().message();
  ASSERT_TRUE(f->layout);
  ASSERT_EQ(f->layout->areas.size(), 1u);
  EXPECT_EQ(f->layout->areas[0].record, alone->areas[0].record);
  EXPECT_EQ(f->layout->areas[0].pool_start, alone->areas[0].pool_start);
  EXPECT_EQ(f->layout->areas[0].alloc_table, alone->areas[0].alloc_table);
  EXPECT_EQ(f->target.block_size, alone->block_size);
}

// `mpheap target --ram` without a firmware description.
TEST(RamSearchCli, PrintsTheHeapWithEvidence) {
  auto r = mpheap::testing::run_mpheap(
      "target --ram " + data_path("qemu-mps2-splitheap/snap1_ram.bin") + "@0x187454", true);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "words        32-bit little endian")) << r.out;
  EXPECT_TRUE(contains(r.out, "block size   16 bytes")) << r.out;
  EXPECT_TRUE(contains(r.out, "heap area 3  pool 0x18dc30..0x1958f0 (31936 bytes, 1996 blocks)"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "3 areas (split heap), 3492 blocks = 55872 bytes")) << r.out;
  EXPECT_TRUE(contains(r.out, "evidence     split heap")) << r.out;
  auto unix = mpheap::testing::run_mpheap(
      "target --ram " + data_path("unix-x64/snap2_heap.bin") + "@0x5555555f32d0 --ram " +
          data_path("unix-x64/snap2_mp_state_ctx.bin") + "@0x5555555f2440",
      true);
  ASSERT_EQ(unix.status, 0) << unix.out;
  EXPECT_TRUE(contains(unix.out, "words        64-bit little endian")) << unix.out;
  EXPECT_TRUE(contains(unix.out, "pool 0x5555555f3640..0x5555556032c0 (64640 bytes, 2020 blocks)"))
      << unix.out;
}

TEST(RamSearchCli, NotFoundSaysWhatWasTriedAndFails) {
  std::string zero = ::testing::TempDir() + "mpheap_ram_search_zero.bin";
  {
    std::ofstream out(zero, std::ios::binary);
    out << std::string(4096, '\0');
  }
  auto r = mpheap::testing::run_mpheap("target --ram " + zero + "@0x20000000", true);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "mpheap target: heap not found in the RAM dumps")) << r.out;
  EXPECT_TRUE(contains(r.out,
                       "no heap area record found in RAM: scanned 0x20000000..0x20001000 "
                       "(4096 bytes) as 32-bit little endian words"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "as 64-bit little endian words")) << r.out;
  std::filesystem::remove(zero);

  auto wrong = mpheap::testing::run_mpheap(
      "target --word-size 8 --ram " + data_path("qemu-microbit/snap1_ram.bin") + "@0x20000000",
      true);
  EXPECT_EQ(wrong.status, 1) << wrong.out;
  EXPECT_TRUE(contains(wrong.out, "heap not found")) << wrong.out;
  EXPECT_FALSE(contains(wrong.out, "as 32-bit")) << wrong.out;

  auto json = mpheap::testing::run_mpheap(
      "target --json --ram " + data_path("qemu-microbit/snap1_ram.bin") + "@0x20000000", true);
  EXPECT_EQ(json.status, 2) << json.out;  // usage errors exit 2
  EXPECT_TRUE(contains(json.out, "need a firmware description")) << json.out;
  auto word = mpheap::testing::run_mpheap(
      "target --word-size 4 --map " + data_path("qemu-microbit/firmware.map"), true);
  EXPECT_EQ(word.status, 2) << word.out;
  EXPECT_TRUE(contains(word.out, "--word-size and --big-endian are for the search in RAM"))
      << word.out;

  if (std::filesystem::exists(kDebianHex)) {
    auto other =
        mpheap::testing::run_mpheap(std::string("target --firmware ") + kDebianHex + " --ram " +
                                        data_path("qemu-microbit/snap1_ram.bin") + "@0x20000000",
                                    true);
    EXPECT_EQ(other.status, 1) << other.out;
    EXPECT_TRUE(contains(other.out, "the RAM dumps do not belong to")) << other.out;
  }
}

}  // namespace
}  // namespace mpheap::target
