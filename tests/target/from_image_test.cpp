// Firmware image readers (Intel HEX, UF2, raw) and the target finder on images alone: small
// hand-made inputs, and Debian's micro:bit MicroPython 1.9.2 firmware.hex when installed.
#include "mpheap/target/from_image.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "mpheap/io/firmware_image.h"
#include "mpheap/target/qstr_hash.h"
#include "trace/test_util.h"

namespace mpheap::target {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

constexpr const char* kDebianHex = mpheap::testing::kDebianMicrobitHex;

// ":LLAAAATT...CC" with the checksum computed.
std::string hex_record(std::uint8_t type, std::uint16_t address, std::vector<std::uint8_t> data) {
  std::vector<std::uint8_t> rec{static_cast<std::uint8_t>(data.size()),
                                static_cast<std::uint8_t>(address >> 8),
                                static_cast<std::uint8_t>(address), type};
  rec.insert(rec.end(), data.begin(), data.end());
  std::uint8_t sum = 0;
  for (std::uint8_t b : rec) sum = static_cast<std::uint8_t>(sum + b);
  rec.push_back(static_cast<std::uint8_t>(-sum));
  std::string out = ":";
  for (std::uint8_t b : rec) out += fmt::format("{:02X}", b);
  return out + "\n";
}

TEST(IntelHex, ReadsDataAcrossLinearAndSegmentAddresses) {
  std::string text = hex_record(0x04, 0, {0x00, 0x01}) + hex_record(0x00, 0xfffe, {1, 2}) +
                     hex_record(0x04, 0, {0x00, 0x02}) + hex_record(0x00, 0x0000, {3, 4, 5}) +
                     hex_record(0x02, 0, {0x10, 0x00}) + hex_record(0x00, 0x0010, {9}) +
                     hex_record(0x05, 0, {0, 0, 0, 0}) + hex_record(0x03, 0, {0, 0, 0, 0}) +
                     hex_record(0x01, 0, {});
  auto image = io::parse_intel_hex(text, "t.hex");
  ASSERT_TRUE(image) << image.error().message();
  ASSERT_EQ(image->ranges().size(), 2u);
  EXPECT_EQ(image->ranges()[0].address, 0x10010u);  // segment 0x1000 * 16 + 0x10
  EXPECT_EQ(image->ranges()[1].address, 0x1fffeu);  // joined across the 64 KiB boundary
  EXPECT_EQ(image->ranges()[1].bytes, (std::vector<std::uint8_t>{1, 2, 3, 4, 5}));
}

TEST(IntelHex, ErrorsNameTheLine) {
  std::string good = hex_record(0x00, 0, {1, 2, 3});
  std::string bad = good;
  bad[bad.size() - 2] = bad[bad.size() - 2] == '0' ? '1' : '0';  // break the checksum
  auto e = io::parse_intel_hex(good + bad, "t.hex");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().line, 2u);
  EXPECT_NE(e.error().what.find("checksum"), std::string::npos) << e.error().what;
  for (std::string text : {std::string("10000000\n"), std::string(":0100000001FE\n:zz\n"),
                           hex_record(0x07, 0, {1}), std::string(":0300000001FE\n")}) {
    auto r = io::parse_intel_hex(text, "t.hex");
    EXPECT_FALSE(r) << text;
    if (!r) {
      EXPECT_GE(r.error().line, 1u) << r.error().message();
    }
  }
  EXPECT_FALSE(io::parse_intel_hex(hex_record(0x01, 0, {}) + good, "t.hex"));  // data after EOF
  EXPECT_FALSE(io::parse_intel_hex("", "t.hex"));
}

std::string uf2_block(std::uint32_t address, std::vector<std::uint8_t> data, std::uint32_t flags,
                      std::uint32_t index, std::uint32_t count) {
  std::string b(512, '\0');
  auto put = [&](std::size_t at, std::uint32_t v) { std::memcpy(&b[at], &v, 4); };
  put(0, 0x0A324655);
  put(4, 0x9E5D5157);
  put(8, flags);
  put(12, address);
  put(16, static_cast<std::uint32_t>(data.size()));
  put(20, index);
  put(24, count);
  put(28, 0xada52840);  // a family id, ignored
  std::memcpy(&b[32], data.data(), data.size());
  put(508, 0x0AB16F30);
  return b;
}

TEST(Uf2, ReadsBlocksAndSkipsNotMainFlash) {
  std::string file = uf2_block(0x1000, {1, 2, 3, 4}, 0x2000, 0, 3) +
                     uf2_block(0x1004, {5, 6}, 0x2000, 1, 3) +
                     uf2_block(0x9000, {7}, 0x1, 2, 3);  // not main flash
  EXPECT_EQ(io::detect_image_format(file), io::ImageFormat::uf2);
  auto image = io::read_firmware_image(file, "t.uf2", std::nullopt);
  ASSERT_TRUE(image) << image.error().message();
  ASSERT_EQ(image->image.ranges().size(), 1u);
  EXPECT_EQ(image->image.ranges()[0].address, 0x1000u);
  EXPECT_EQ(image->image.ranges()[0].bytes, (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}));
}

TEST(Uf2, RejectsBadMagicsSizesAndPayloads) {
  std::string good = uf2_block(0, {1}, 0, 0, 1);
  std::string end = good;
  end[508] = 0;
  auto e = io::parse_uf2(good + end, "t.uf2");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().offset, 512u + 508u);
  EXPECT_NE(e.error().what.find("block 1"), std::string::npos) << e.error().what;
  EXPECT_FALSE(io::parse_uf2(good.substr(0, 500), "t.uf2"));
  std::string big = good;
  big[16] = static_cast<char>(0xff);
  big[17] = 1;  // payload 511 > 476
  EXPECT_FALSE(io::parse_uf2(big, "t.uf2"));
  std::string start = good;
  start[4] = 0;
  EXPECT_FALSE(io::parse_uf2(start, "t.uf2"));
}

TEST(RawImage, NeedsABase) {
  EXPECT_FALSE(io::read_firmware_image("\x01\x02", "t.bin", std::nullopt));
  auto image = io::read_firmware_image(std::string("\x01\x02", 2), "t.bin", 0x08000000);
  ASSERT_TRUE(image);
  EXPECT_EQ(image->format, io::ImageFormat::raw);
  EXPECT_EQ(image->image.ranges()[0].address, 0x08000000u);
  EXPECT_FALSE(io::read_firmware_image(hex_record(0, 0, {1}), "t.hex", 0));  // --base on a HEX
}

// A hand-made image with a qstr pool in either layout, mp_type_type and two types.
struct Builder {
  std::vector<std::uint8_t> bytes = std::vector<std::uint8_t>(0x1000, 0);
  void word(std::size_t at, std::uint32_t v) { std::memcpy(&bytes[at], &v, 4); }
};

io::MemoryImage small_image(bool arrays, std::uint32_t hash_bytes) {
  Builder b;
  const std::uint32_t base = 0x10000;
  std::vector<std::string> strings{"", "", "type", "int", "str", "function"};
  std::size_t pool = 0x100, text = 0x800, hashes = 0x600, lengths = 0x700;
  b.word(pool, 0);
  b.word(pool + 4, 0);  // a first pool is never sorted (1.22+: the static pool)
  b.word(pool + 8, 10);
  b.word(pool + 12, static_cast<std::uint32_t>(strings.size()));
  std::size_t slots = pool + (arrays ? 24 : 16);
  if (arrays) {
    b.word(pool + 16, base + static_cast<std::uint32_t>(hashes));
    b.word(pool + 20, base + static_cast<std::uint32_t>(lengths));
  }
  for (std::size_t i = 0; i < strings.size(); ++i) {
    const std::string& s = strings[i];
    std::uint64_t h = i == 0 ? 0 : qstr_hash(s, hash_bytes);
    b.word(slots + 4 * i, base + static_cast<std::uint32_t>(text));
    if (arrays) {
      for (std::uint32_t k = 0; k < hash_bytes; ++k)
        b.bytes[hashes + i * hash_bytes + k] = static_cast<std::uint8_t>(h >> (8 * k));
      b.bytes[lengths + i] = static_cast<std::uint8_t>(s.size());
    } else {
      for (std::uint32_t k = 0; k < hash_bytes; ++k)
        b.bytes[text++] = static_cast<std::uint8_t>(h >> (8 * k));
      b.bytes[text++] = static_cast<std::uint8_t>(s.size());
    }
    for (char c : s) b.bytes[text++] = static_cast<std::uint8_t>(c);
    b.bytes[text++] = 0;
  }
  // mp_type_type at 0x300 (name qstr 2 as a word), int at 0x340, a function type at 0x380.
  b.word(0x300, base + 0x300);
  b.word(0x304, 2);
  b.word(0x340, base + 0x300);
  b.word(0x344, 3);
  b.word(0x34c, base + 0x901);  // make_new
  b.word(0x380, base + 0x300);
  b.word(0x384, 5);
  // A literal pool holding &mp_type_type followed by garbage: not a type.
  b.word(0x3c0, base + 0x300);
  b.word(0x3c4, 3);
  b.word(0x3c8, 0x2300b5f8);
  std::string v = "MicroPython v1.9.2-34-gd64154c73 on 2017-09-01";
  std::memcpy(&b.bytes[0xe00], v.data(), v.size());
  io::MemoryImage image;
  image.add(io::MemoryRange{base, b.bytes, "small"});
  return image;
}

TEST(FromImage, FindsPoolsTypesAndVersionInASmallImage) {
  for (bool arrays : {false, true}) {
    for (std::uint32_t hb : {1u, 2u}) {
      SCOPED_TRACE(fmt::format("arrays {} hash bytes {}", arrays, hb));
      auto f = read_image_target(small_image(arrays, hb), nullptr);
      ASSERT_TRUE(f) << f.error().message();
      ASSERT_EQ(f->rom_pools.size(), 1u);
      EXPECT_EQ(f->rom_pools[0].arrays, arrays);
      EXPECT_EQ(f->rom_pools[0].hash_bytes, hb);
      EXPECT_EQ(f->target.rom_qstrs.size(), 6u);
      EXPECT_EQ(f->type_type, 0x10300u);
      ASSERT_EQ(f->target.types.size(), 3u);
      EXPECT_EQ(f->target.types[1].name, "int");
      EXPECT_EQ(f->target.types[1].symbol, "mp_type_int");
      EXPECT_EQ(f->version, "MicroPython v1.9.2-34-gd64154c73 on 2017-09-01");
      ASSERT_NE(f->target.find_symbol("mp_type_type"), nullptr);
    }
  }
}

TEST(FromImage, NotFoundSaysWhatWasTried) {
  io::MemoryImage junk;
  junk.add(io::MemoryRange{0, std::vector<std::uint8_t>(4096, 0x5a), "junk"});
  auto f = read_image_target(junk, nullptr);
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().what.find("no ROM qstr pool found"), std::string::npos);
  // A good image with a RAM dump from nothing: no heap area record.
  io::MemoryImage ram;
  ram.add(io::MemoryRange{0x20000000, std::vector<std::uint8_t>(4096, 0), "ram"});
  auto image = small_image(false, 1);
  auto g = read_image_target(image, &ram);
  ASSERT_FALSE(g);
  EXPECT_NE(g.error().what.find("no heap area record"), std::string::npos);
}

// Debian's firmware-microbit-micropython 1.0.1-4 (MicroPython 1.9.2), when installed.
class DebianFirmware : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kDebianHex))
      GTEST_SKIP() << kDebianHex
                   << " is not installed: apt-get install firmware-microbit-micropython";
  }
};

TEST_F(DebianFirmware, HexHasTheExpectedRanges) {
  auto image = io::load_firmware_image(kDebianHex, std::nullopt);
  ASSERT_TRUE(image) << image.error().message();
  EXPECT_EQ(image->format, io::ImageFormat::intel_hex);
  ASSERT_EQ(image->image.ranges().size(), 2u);
  EXPECT_EQ(image->image.ranges()[0].address, 0u);
  EXPECT_EQ(image->image.ranges()[0].end(), 0x3b88cu);       // the firmware
  EXPECT_EQ(image->image.ranges()[1].address, 0x100010c0u);  // UICR
  EXPECT_EQ(image->image.ranges()[1].end(), 0x100010dcu);
}

TEST_F(DebianFirmware, ImageAloneGivesQstrsTypesAndVersion) {
  auto image = io::load_firmware_image(kDebianHex, std::nullopt);
  ASSERT_TRUE(image);
  auto f = read_image_target(image->image, nullptr);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->version, "MicroPython v1.9.2-34-gd64154c73 on 2017-09-01");
  ASSERT_EQ(f->rom_pools.size(), 1u);
  EXPECT_EQ(f->rom_pools[0].address, 0x2f9d0u);
  EXPECT_EQ(f->rom_pools[0].len, 744u);
  EXPECT_EQ(f->rom_pools[0].alloc, 10u);  // 1.9.2 sets it so the first RAM pool is small
  EXPECT_FALSE(f->rom_pools[0].arrays);
  EXPECT_EQ(f->rom_pools[0].hash_bytes, 1u);
  EXPECT_EQ(f->target.rom_qstrs.size(), 744u);
  EXPECT_EQ(f->target.rom_qstrs[2], "*");
  EXPECT_EQ(f->type_type, 0x3097cu);
  EXPECT_EQ(f->target.objects.type_name, 4u);
  EXPECT_EQ(f->target.objects.type_name_bytes, 4u);
  auto symbol = [&](const char* name) -> std::uint64_t {
    const Symbol* s = f->target.find_symbol(name);
    return s != nullptr ? s->address : 0;
  };
  for (const char* name :
       {"mp_type_dict", "mp_type_str", "mp_type_list", "mp_type_bytes", "mp_type_bytearray",
        "mp_type_float", "mp_type_module", "mp_type_int", "mp_type_type"})
    EXPECT_NE(symbol(name), 0u) << name;
  EXPECT_EQ(symbol("mp_type_tuple"), 0x2f958u);  // not attrtuple (0x2e720), which has no make_new
  std::size_t functions = 0;
  for (const TypeObject& ty : f->target.types) functions += ty.name == "function" ? 1 : 0;
  EXPECT_EQ(functions, 8u);
  EXPECT_FALSE(f->fun_bc);  // needs a RAM dump
  // A Cortex-M vector table: the initial SP is the top of the micro:bit's 16 KiB RAM.
  EXPECT_EQ(f->target.machine, "ARM");
  auto vt = cortex_m_vector_table(image->image);
  ASSERT_TRUE(vt);
  EXPECT_EQ(vt->address, 0u);
  EXPECT_EQ(vt->initial_sp, 0x20004000u);
  EXPECT_EQ(vt->reset % 2, 1u);
  for (const std::string& e : f->evidence) std::cout << "  " << e << "\n";
}

// Not a vector table: an SP outside SRAM, or handlers that are not Thumb code in the image.
TEST(FromImage, CortexMVectorTableNeedsSpInSramAndThumbHandlers) {
  auto image_of = [](std::vector<std::uint32_t> words) {
    io::MemoryRange r;
    r.address = 0x1000;
    for (std::uint32_t w : words)
      for (int b = 0; b < 4; ++b) r.bytes.push_back(static_cast<std::uint8_t>(w >> (8 * b)));
    r.bytes.resize(256, 0);
    io::MemoryImage m;
    m.add(std::move(r));
    return m;
  };
  auto good = cortex_m_vector_table(image_of({0x20008000, 0x1041, 0x1051, 0x1061}));
  ASSERT_TRUE(good);
  EXPECT_EQ(good->address, 0x1000u);
  EXPECT_EQ(good->initial_sp, 0x20008000u);
  EXPECT_FALSE(cortex_m_vector_table(image_of({0x10008000, 0x1041, 0x1051, 0x1061})));  // SP
  EXPECT_FALSE(cortex_m_vector_table(image_of({0x20008000, 0x1040, 0x1051, 0x1061})));  // even
  EXPECT_FALSE(cortex_m_vector_table(image_of({0x20008000, 0x9041, 0x1051, 0x1061})));  // outside
}

TEST_F(DebianFirmware, WithARamDumpFindsTheHeapAndMpStateCtx) {
  auto image = io::load_firmware_image(kDebianHex, std::nullopt);
  ASSERT_TRUE(image);
  auto placed = io::parse_placed_file(data_path("microbit-debian/named/snap1_ram.bin@0x20000000"));
  ASSERT_TRUE(placed);
  auto range = io::load_placed_file(*placed);
  ASSERT_TRUE(range);
  io::MemoryImage ram;
  ram.add(std::move(*range));
  auto f = read_image_target(image->image, &ram);
  ASSERT_TRUE(f) << f.error().message();
  ASSERT_TRUE(f->layout);
  for (const std::string& e : f->layout->evidence) std::cout << "  " << e << "\n";
  const Target& t = f->target;
  EXPECT_EQ(t.block_size, 16u);
  ASSERT_EQ(f->layout->areas.size(), 1u);
  EXPECT_EQ(f->layout->areas[0].pool_start, 0x200004a0u);
  EXPECT_EQ(f->layout->areas[0].alloc_table, 0x200003e0u);
  EXPECT_EQ(f->layout->areas[0].blocks(), 628u);
  EXPECT_EQ(t.mp_state_ctx, 0x2000014cu);
  EXPECT_EQ(t.state.vm_last_pool, 0x14u);
  EXPECT_EQ(t.state.vm_dict_main, 0x4cu);
  EXPECT_EQ(t.state.thread_stack_top, 0xcu);
  EXPECT_TRUE(f->fun_bc);
}

}  // namespace
}  // namespace mpheap::target
