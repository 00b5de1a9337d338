// Firmware images built by others, read without ELF symbols or --base: qstr pools without a
// hash array, the 1.20+ type layout (slot tables, nameless types), the ROM version tuple, ELF
// program headers, an ELF inside a container, the load address inference and its errors. Small
// hand-made images, and the Pybricks images of tests/data/pybricks.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "mpheap/io/elf_segments.h"
#include "mpheap/io/firmware_image.h"
#include "mpheap/target/from_elf.h"
#include "mpheap/target/from_image.h"
#include "mpheap/target/load_address.h"
#include "trace/test_util.h"

namespace mpheap::target {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

constexpr std::uint32_t kBase = 0x08000000;

struct Bytes {
  std::string b;
  explicit Bytes(std::size_t n) : b(n, '\0') {}
  void word(std::size_t at, std::uint32_t v) { std::memcpy(&b[at], &v, 4); }
  void half(std::size_t at, std::uint16_t v) { std::memcpy(&b[at], &v, 2); }
};

// A MicroPython 1.26-like image at kBase: a Cortex-M vector table, a qstr pool without hashes
// (MICROPY_QSTR_BYTES_IN_HASH 0), mp_type_type and int, tuple, dict types in the 1.20+ layout,
// a nameless type whose locals dict holds "pressed", the version tuple (1, 26, 1, '') behind
// sys.implementation with _mpy 0x306. `sorted` sets the pool's is_sorted bit (its strings are
// not sorted); `bad_slots` gives the int type slot indices {1, 3} (not 1..k).
std::string mini_image(bool sorted = false, bool bad_slots = false) {
  Bytes m(0x600);
  m.word(0, 0x20001000);
  for (std::size_t i = 1; i < 4; ++i) m.word(4 * i, kBase + 0x101);
  const std::vector<std::string> strings{"",      "",        "type", "int", "micropython",
                                         "tuple", "pressed", "dict"};
  m.word(0x104, sorted ? 0x80000000u : 0);
  m.word(0x108, 10);
  m.word(0x10c, static_cast<std::uint32_t>(strings.size()));
  m.word(0x110, kBase + 0x200);  // lengths
  std::size_t text = 0x300;
  for (std::size_t i = 0; i < strings.size(); ++i) {
    m.b[0x200 + i] = static_cast<char>(strings[i].size());
    m.word(0x114 + 4 * i, kBase + static_cast<std::uint32_t>(text));
    std::memcpy(&m.b[text], strings[i].data(), strings[i].size());
    text += strings[i].size() + 1;
  }
  auto type = [&](std::size_t at, std::uint16_t name) {
    m.word(at, kBase + 0x400);
    m.half(at + 6, name);
  };
  type(0x400, 2);
  type(0x420, 3);
  m.b[0x420 + 8] = 1;  // make_new is slot 1
  m.word(0x420 + 20, kBase + 0x101);
  if (bad_slots) m.b[0x420 + 9] = 3;  // print is slot 3, but there is no slot 2
  type(0x440, 5);
  type(0x460, 7);
  type(0x480, 1);
  m.b[0x480 + 8 + 11] = 1;  // locals_dict is slot 1
  m.word(0x480 + 20, kBase + 0x500);
  m.word(0x500, kBase + 0x460);  // the dict: {&dict, used 1 | fixed bits, alloc, table}
  m.word(0x504, (1 << 3) | 7);
  m.word(0x508, 1);
  m.word(0x50c, kBase + 0x520);
  m.word(0x520, (6 << 3) | 2);  // "pressed"
  m.word(0x524, kBase + 0x101);
  m.word(0x540, kBase + 0x440);  // (1, 26, 1, '')
  m.word(0x544, 4);
  m.word(0x548, (1 << 1) | 1);
  m.word(0x54c, (26 << 1) | 1);
  m.word(0x550, (1 << 1) | 1);
  m.word(0x554, (1 << 3) | 2);
  m.word(0x560, kBase + 0x440);  // sys.implementation ("micropython", &version, _mpy)
  m.word(0x564, 3);
  m.word(0x568, (4 << 3) | 2);
  m.word(0x56c, kBase + 0x540);
  m.word(0x570, (0x306 << 1) | 1);
  return m.b;
}

// `image` as the one PT_LOAD (at kBase) of a 32-bit ARM ELF without sections.
std::string stripped_elf(const std::string& image) {
  Bytes e(0x60);
  std::memcpy(&e.b[0],
              "\x7f"
              "ELF\x01\x01\x01",
              7);
  e.half(16, 2);   // ET_EXEC
  e.half(18, 40);  // EM_ARM
  e.word(20, 1);
  e.word(24, kBase + 0x101);
  e.word(28, 52);  // e_phoff
  e.half(40, 52);
  e.half(42, 32);
  e.half(44, 1);
  e.half(46, 40);
  e.word(52, 1);  // PT_LOAD
  e.word(56, 0x60);
  e.word(60, kBase);
  e.word(64, kBase);
  e.word(68, static_cast<std::uint32_t>(image.size()));
  e.word(72, static_cast<std::uint32_t>(image.size()));
  e.word(76, 5);
  return e.b + image;
}

io::MemoryImage at_base(const std::string& bytes) {
  return io::raw_image(bytes, kBase, "mini");
}

TEST(PoolsWithoutHashes, PoolTypesNamelessTypeAndVersion) {
  io::MemoryImage image = at_base(mini_image());
  auto f = read_image_target(image, nullptr, "mini");
  ASSERT_TRUE(f) << f.error().message();
  ASSERT_EQ(f->rom_pools.size(), 1u);
  EXPECT_TRUE(f->rom_pools[0].arrays);
  EXPECT_EQ(f->rom_pools[0].hash_bytes, 0u);
  EXPECT_EQ(f->rom_pools[0].name, "mp_qstr_const_pool_static");  // 1.26: the static pool first
  EXPECT_EQ(f->target.rom_qstrs.size(), 8u);
  EXPECT_EQ(f->target.qstr_pool.size, 20u);
  EXPECT_FALSE(f->target.qstr_pool.hashes);
  EXPECT_EQ(f->target.qstr_pool.lengths, 16u);
  ASSERT_EQ(f->target.types.size(), 5u);
  EXPECT_EQ(f->target.types[4].name, "<type @0x08000480 {pressed}>");
  EXPECT_EQ(f->target.types[4].symbol, "");
  EXPECT_EQ(f->target.types[1].symbol, "mp_type_int");
  EXPECT_EQ(f->version, "1.26.1");
  EXPECT_EQ(f->target.firmware.micropython_version, "1.26.1");
  EXPECT_NE(f->target.firmware.version_source.find("sys.implementation.version"),
            std::string::npos);
  EXPECT_EQ(f->target.firmware.mpy, 0x306u);
  EXPECT_EQ(f->target.firmware.cpu, "ARM Cortex-M");
}

TEST(PoolsWithoutHashes, SortedFlagOnUnsortedStringsIsNotAPool) {
  auto f = read_image_target(at_base(mini_image(true)), nullptr, "mini");
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().what.find("no ROM qstr pool found"), std::string::npos);
}

TEST(TypeSlots, CodeWithABadSlotTableIsNotAType) {
  auto f = read_image_target(at_base(mini_image(false, true)), nullptr, "mini");
  ASSERT_TRUE(f) << f.error().message();
  for (const TypeObject& t : f->target.types) EXPECT_NE(t.name, "int");
  EXPECT_EQ(f->target.types.size(), 4u);
}

TEST(ImageFile, StrippedElfAndContainer) {
  const std::string elf = stripped_elf(mini_image());
  auto e = io::read_elf_segments(elf, "mini.elf");
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->machine, 40);
  ASSERT_EQ(e->loads.size(), 1u);
  auto f = read_image_file_target(elf, "mini.elf", std::nullopt, nullptr);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->target.machine, "ARM");
  EXPECT_EQ(f->target.firmware.load_address, kBase);
  EXPECT_EQ(f->target.rom_qstrs.size(), 8u);
  // --base on an ELF: it carries its addresses.
  EXPECT_FALSE(read_image_file_target(elf, "mini.elf", kBase, nullptr));

  // A container: a boot loader's ARM vector table, padding, then the ELF at 0x100.
  Bytes boot(0x100);
  for (std::size_t i = 0; i < 8; ++i) boot.word(4 * i, 0xe59ff014);
  const std::string container = boot.b + elf;
  EXPECT_EQ(io::find_embedded_elf(container), 0x100u);
  auto g = read_image_file_target(container, "box.bin", std::nullopt, nullptr);
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g->target.rom_qstrs.size(), 8u);
  bool said_where = false;
  for (const std::string& line : g->evidence)
    said_where |= line.find("starts at file offset 0x100") != std::string::npos;
  EXPECT_TRUE(said_where);
}

// The stock MicroPython 1.28 micro:bit ELF read as an image (program headers only, as if
// stripped), and its flash flattened to a raw .bin: the qstrs and type objects equal what the
// ELF's own symbols and DWARF give.
TEST(ImageFile, Stock128AsImageEqualsItsSymbols) {
  const std::string bytes = read_file(data_path("stock-v1.28/qemu-microbit/firmware.elf"));
  auto truth = read_elf_target_from_memory(bytes, "firmware.elf");
  ASSERT_TRUE(truth) << truth.error().message();
  auto check = [&](const ImageFindings& f) {
    EXPECT_EQ(f.target.rom_qstrs, truth->rom_qstrs);
    ASSERT_EQ(f.target.types.size(), truth->types.size());
    for (std::size_t i = 0; i < truth->types.size(); ++i) {
      EXPECT_EQ(f.target.types[i].address, truth->types[i].address);
      if (!truth->types[i].name.empty())
        EXPECT_EQ(f.target.types[i].name, truth->types[i].name);
      else
        EXPECT_EQ(f.target.types[i].name.rfind("<type @0x", 0), 0u);
    }
    for (const QstrPoolFinding& p : f.rom_pools) {
      const Symbol* s = truth->find_symbol(p.name);
      ASSERT_NE(s, nullptr) << p.name;
      EXPECT_EQ(s->address, p.address) << p.name;
    }
    EXPECT_EQ(f.version, "1.28.0");
  };
  auto as_elf = read_image_file_target(bytes, "firmware.elf", std::nullopt, nullptr);
  ASSERT_TRUE(as_elf) << as_elf.error().message();
  check(*as_elf);
  auto segments = io::read_elf_segments(bytes, "firmware.elf");
  ASSERT_TRUE(segments);
  const io::MemoryRange& flash = segments->image.ranges().front();
  ASSERT_EQ(flash.address, 0u);
  auto as_bin = read_image_file_target(std::string(flash.bytes.begin(), flash.bytes.end()),
                                       "firmware.bin", std::nullopt, nullptr);
  ASSERT_TRUE(as_bin) << as_bin.error().message();
  EXPECT_EQ(as_bin->target.firmware.load_address, 0u);
  check(*as_bin);
}

TEST(ImageFile, MalformedElfSaysWhere) {
  std::string elf = stripped_elf(mini_image());
  std::string truncated = elf.substr(0, 0x70);
  auto e = io::read_elf_segments(truncated, "cut.elf");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().offset, 52u);
  EXPECT_NE(e.error().what.find("truncated ELF"), std::string::npos) << e.error().what;
  std::string bad = elf;
  bad[42] = 31;  // e_phentsize
  auto b = io::read_elf_segments(bad, "bad.elf");
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().what.find("expected e_phentsize 32, found 31"), std::string::npos);
}

TEST(ImageFile, ElfOptionOnAStrippedElfPointsAtFirmware) {
  auto t = read_elf_target_from_memory(stripped_elf(mini_image()), "mini.elf");
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().what.find("--firmware"), std::string::npos) << t.error().what;
}

TEST(ImageFile, JunkWithoutBaseIsAClearError) {
  std::string junk(4096, '\x5a');
  auto f = read_image_file_target(junk, "junk.bin", std::nullopt, nullptr);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().kind, ErrorKind::not_found);
  EXPECT_NE(f.error().what.find("without --base"), std::string::npos) << f.error().what;
}

TEST(LoadAddress, PrimehubIsInferredAndAWrongBaseNamesTheRightOne) {
  const std::string bytes = read_file(data_path("pybricks/primehub/firmware-base.bin"));
  LoadAddressRanking r = rank_load_addresses(bytes);
  ASSERT_GE(r.best.size(), 2u);
  EXPECT_EQ(r.best[0].base, 0x08008000u);
  EXPECT_GT(r.best[0].words, 2 * r.best[1].words);  // 876 against 281 (0x08009d00)
  auto wrong = read_image_file_target(bytes, "primehub.bin", 0x08000000, nullptr);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().what.find("pass --base 0x08008000"), std::string::npos)
      << wrong.error().what;
  auto right = read_image_file_target(bytes, "primehub.bin", 0x08008000, nullptr);
  ASSERT_TRUE(right) << right.error().message();
  EXPECT_EQ(right->target.firmware.load_address_source, "given (--base)");
  EXPECT_EQ(right->rom_pools.size(), 3u);
  EXPECT_EQ(right->rom_pools[0].name, "mp_qstr_const_pool_static");
  EXPECT_EQ(right->rom_pools[1].name, "mp_qstr_const_pool");
  EXPECT_EQ(right->rom_pools[2].name, "mp_qstr_frozen_const_pool");
}

// Debian's micro:bit MicroPython 1.9.2 (an older layout: hash and length bytes before each
// string), flattened to a raw .bin: its load address 0 is inferred too.
TEST(LoadAddress, DebianMicrobitAsRawBinIsAt0) {
  auto hex = io::load_firmware_image(mpheap::testing::kDebianMicrobitHex, std::nullopt);
  if (!hex) GTEST_SKIP() << "Debian's firmware-microbit-micropython is not installed";
  const io::MemoryRange& flash = hex->image.ranges().front();
  ASSERT_EQ(flash.address, 0u);
  std::string bytes(flash.bytes.begin(), flash.bytes.end());
  auto f = read_image_file_target(bytes, "microbit.bin", std::nullopt, nullptr);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->target.firmware.load_address, 0u);
  EXPECT_EQ(f->version, "MicroPython v1.9.2-34-gd64154c73 on 2017-09-01");
  auto from_hex = read_image_target(hex->image, nullptr);
  ASSERT_TRUE(from_hex);
  EXPECT_EQ(f->target.rom_qstrs, from_hex->target.rom_qstrs);
  EXPECT_EQ(f->target.types.size(), from_hex->target.types.size());
}

TEST(LoadAddress, Ev3ContainerIsAnArm9ElfAt0xc0000000) {
  const std::string bytes = read_file(data_path("pybricks/ev3/firmware-base.bin"));
  EXPECT_EQ(io::find_embedded_elf(bytes), 0x50000u);
  auto f = read_image_file_target(bytes, "ev3.bin", std::nullopt, nullptr);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->target.machine, "ARM");
  EXPECT_NE(f->target.firmware.cpu.find("ARM7/ARM9"), std::string::npos);
  EXPECT_EQ(f->target.firmware.load_address, 0xc0000000u);
}

}  // namespace
}  // namespace mpheap::target
