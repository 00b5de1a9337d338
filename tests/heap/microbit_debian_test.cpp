// Debian's micro:bit MicroPython 1.9.2 (no ELF, no symbols): with only firmware.hex and each RAM
// dump of tests/data/microbit-debian, the block map and GC totals equal what mem_info(1)
// printed, and the named objects of named/ are found and typed at the addresses id() printed.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "heap/mem_info.h"
#include "mpheap/heap/objects.h"
#include "mpheap/heap/snapshot.h"
#include "mpheap/io/firmware_image.h"
#include "mpheap/report/heap_report.h"
#include "mpheap/target/from_image.h"
#include "trace/test_util.h"

namespace mpheap::heap {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

constexpr const char* kDebianHex = mpheap::testing::kDebianMicrobitHex;

using mpheap::testing::MemInfo;
using mpheap::testing::parse_mem_info;

const io::MemoryImage& firmware() {
  static const io::MemoryImage image = [] {
    auto loaded = io::load_firmware_image(kDebianHex, std::nullopt);
    return loaded ? std::move(loaded->image) : io::MemoryImage{};
  }();
  return image;
}

io::MemoryImage ram(const std::string& snapshot) {
  io::MemoryImage m;
  auto placed =
      io::parse_placed_file(data_path("microbit-debian/" + snapshot + "_ram.bin@0x20000000"));
  if (!placed) return m;
  if (auto range = io::load_placed_file(*placed)) m.add(std::move(*range));
  return m;
}

// "named/snap0" -> "named_snap0" for test names.
std::string snapshot_name(const ::testing::TestParamInfo<std::string>& param) {
  std::string name = param.param;
  std::replace(name.begin(), name.end(), '/', '_');
  return name;
}

class MicrobitDebian : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kDebianHex))
      GTEST_SKIP() << kDebianHex
                   << " is not installed (apt-get install firmware-microbit-micropython); the "
                      "firmware is never copied into the repository";
    ASSERT_FALSE(firmware().ranges().empty()) << "cannot read " << kDebianHex;
  }
};

void expect_matches_mem_info(const target::Target& t, const io::MemoryImage& memory,
                             const std::string& snapshot) {
  auto snap = decode_snapshot(t, memory, 0);
  ASSERT_TRUE(snap) << snap.error().message();
  EXPECT_TRUE(snap->diagnostics.empty());
  MemInfo want =
      parse_mem_info(read_file(data_path("microbit-debian/" + snapshot + "_mem_info.txt")));
  ASSERT_FALSE(want.map_lines.empty());
  MemInfo got = parse_mem_info(report::gc_info_text(snap->totals) + report::blockmap(*snap, t));
  EXPECT_EQ(got.gc_lines, want.gc_lines);
  EXPECT_EQ(got.map_lines, want.map_lines);
}

TEST_P(MicrobitDebian, BlockMapAndTotalsEqualMemInfo) {
  io::MemoryImage memory = ram(GetParam());
  auto f = target::read_image_target(firmware(), &memory, kDebianHex);
  ASSERT_TRUE(f) << f.error().message();
  ASSERT_TRUE(f->layout);
  ASSERT_EQ(f->layout->areas.size(), 1u);
  EXPECT_EQ(f->layout->areas[0].pool_start, 0x200004a0u);
  EXPECT_EQ(f->layout->areas[0].alloc_table, 0x200003e0u);
  EXPECT_EQ(f->layout->areas[0].blocks(), 628u);
  EXPECT_EQ(f->target.block_size, 16u);
  expect_matches_mem_info(f->target, memory, GetParam());
}

// The same with no symbols: block letters from the type objects' names (block_letter's path for
// targets without symbols).
TEST_P(MicrobitDebian, BlockMapFromTypeNamesWithoutSymbols) {
  io::MemoryImage memory = ram(GetParam());
  auto f = target::read_image_target(firmware(), &memory, kDebianHex);
  ASSERT_TRUE(f) << f.error().message();
  target::Target t = f->target;
  t.symbols.clear();
  // Types with a Python name of their own lose their symbol guess too: their letters come from
  // the name alone. Shared names (tuple/attrtuple, the function types) keep the finder's choice.
  for (target::TypeObject& ty : t.types)
    if (std::count_if(t.types.begin(), t.types.end(),
                      [&](const target::TypeObject& other) { return other.name == ty.name; }) == 1)
      ty.symbol.clear();
  t.finalize();
  expect_matches_mem_info(t, memory, GetParam());
}

INSTANTIATE_TEST_SUITE_P(AllSnapshots, MicrobitDebian,
                         ::testing::Values("named/snap0", "named/snap1", "named/snap2",
                                           "alloc/snap0", "alloc/snap1", "alloc/snap2",
                                           "alloc/snap3", "sequence/snap0", "sequence/snap1",
                                           "sequence/snap2", "sequence/snap3", "sequence/snap4",
                                           "sequence/snap5", "sequence/snap6", "sequence/snap7",
                                           "sequence/snap8"),
                         snapshot_name);

class MicrobitDebianNamed : public MicrobitDebian {};

// README.md: the addresses id() printed after the last snapshot (objects never move).
TEST_P(MicrobitDebianNamed, NamedObjectsAreFoundAndTyped) {
  const std::string snapshot = GetParam();
  io::MemoryImage memory = ram(snapshot);
  auto f = target::read_image_target(firmware(), &memory, kDebianHex);
  ASSERT_TRUE(f) << f.error().message();
  const target::Target& t = f->target;
  auto snap = decode_snapshot(t, memory, 0);
  ASSERT_TRUE(snap) << snap.error().message();
  ObjectReader reader(t, memory, *snap);
  name_instance_types(*snap, reader, t);
  // This build uses MICROPY_OBJ_REPR_C before 1.13 (the image finder says so): a qstr is
  // (q << 3) | 6, a float an immediate, not a heap object, and None/False/True are ROM objects.
  EXPECT_EQ(f->object_repr, 'C');
  EXPECT_EQ(t.values.repr, 'C');
  EXPECT_FALSE(t.values.immediate_objs);
  auto name_of = [&](std::uint64_t w) {
    std::string s = reader.repr(w);
    return s.size() >= 2 && s.front() == '\'' ? s.substr(1, s.size() - 2) : s;
  };
  // __main__'s globals, as the reader decodes vm.dict_main.
  std::map<std::string, std::uint64_t> globals;
  for (auto& [name, value] : reader.globals()) globals[name] = value;
  ASSERT_GE(globals.size(), 10u);
  EXPECT_EQ(name_of(globals.at("__name__")), "__main__");
  auto object = [&](const char* name) -> const HeapObject* {
    auto it = globals.find(name);
    return it == globals.end() ? nullptr : reader.object_at(it->second);
  };

  const HeapObject* config = object("CONFIG");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->address, 0x20000600u);
  EXPECT_EQ(snap->type_name(*config), "dict");
  auto items = reader.dict_items(*config);
  ASSERT_TRUE(items);
  std::map<std::string, std::uint64_t> config_items;
  for (auto [k, v] : *items) config_items[name_of(k)] = v;
  ASSERT_EQ(config_items.size(), 3u);
  EXPECT_EQ(reader.repr(config_items["alpha"]), "1");
  EXPECT_EQ(name_of(config_items["beta"]), "two");
  EXPECT_EQ(reader.repr(config_items["gamma"]), "3.5");

  const HeapObject* greeting = object("GREETING");
  ASSERT_NE(greeting, nullptr);
  EXPECT_EQ(greeting->address, 0x200006c0u);
  EXPECT_EQ(snap->type_name(*greeting), "str");
  EXPECT_EQ(reader.str_value(*greeting), "hello mpheap fixture");
  if (snapshot == "named/snap0") return;

  const HeapObject* sprite = object("Sprite");
  ASSERT_NE(sprite, nullptr);
  EXPECT_EQ(sprite->address, 0x20000730u);
  EXPECT_EQ(snap->type_name(*sprite), "type");
  EXPECT_EQ(reader.class_name(*sprite), "Sprite");
  const HeapObject* sprites = object("SPRITES");
  ASSERT_NE(sprites, nullptr);
  EXPECT_EQ(sprites->address, 0x20000690u);
  EXPECT_EQ(snap->type_name(*sprites), "list");
  auto list = reader.sequence_items(*sprites);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 3u);
  const std::uint64_t want[] = {0x20000880, 0x20000db0, 0x20000e00};
  for (std::size_t i = 0; i < 3; ++i) {
    const HeapObject* s = reader.object_at((*list)[i]);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->address, want[i]);
    EXPECT_EQ(snap->type_name(*s), "Sprite");
  }
  struct Named {
    const char* name;
    std::uint64_t address;
    const char* type;
  };
  for (const Named& n : {Named{"BUF", 0x20000980, "bytearray"}, Named{"NUMS", 0x20000990, "tuple"},
                         Named{"BIG", 0x20000e30, "int"}, Named{"COUNTER", 0x20000f30, "closure"},
                         Named{"G", 0x20000f80, "generator"}, Named{"WORDS", 0x20001520, "set"}}) {
    const HeapObject* o = object(n.name);
    ASSERT_NE(o, nullptr) << n.name;
    EXPECT_EQ(o->address, n.address) << n.name;
    EXPECT_EQ(snap->type_name(*o), n.type) << n.name;
  }
  auto nums = reader.sequence_items(*object("NUMS"));
  ASSERT_TRUE(nums);
  ASSERT_EQ(nums->size(), 4u);
  EXPECT_EQ(reader.repr((*nums)[0]), "1");
  EXPECT_EQ(reader.repr((*nums)[2]), "3");
  EXPECT_EQ(reader.repr((*nums)[3]), "4.25");
}

INSTANTIATE_TEST_SUITE_P(Named, MicrobitDebianNamed,
                         ::testing::Values("named/snap0", "named/snap1", "named/snap2"),
                         snapshot_name);

}  // namespace
}  // namespace mpheap::heap
