// MicroPython's WebAssembly port 1.27.0 (tests/data/wasm-pyscript): with only micropython.wasm
// (no symbols) and each linear-memory dump, the block map and GC lines equal what the firmware's
// mem_info(1) printed (snap3 with the heap's second area), function and tuple letters included;
// the pystack is a root (no garbage after the port's collection); the heap's growth is followed
// in every dump and predicted by --can-alloc.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_runner.h"
#include "heap/mem_info.h"
#include "mpheap/heap/python_path.h"
#include "mpheap/io/firmware_image.h"
#include "mpheap/report/heap_report.h"
#include "mpheap/session/heap_session.h"
#include "trace/test_util.h"

namespace mpheap::heap {
namespace {

using mpheap::testing::data_path;
using mpheap::testing::MemInfo;
using mpheap::testing::parse_mem_info;
using mpheap::testing::read_file;
using mpheap::testing::run_mpheap;

const std::string kWasm = data_path("wasm-pyscript/micropython.wasm");

// The dump decompressed once into the build's temporary directory: "PATH".
std::string dump(const std::string& name) {
  const std::filesystem::path out =
      std::filesystem::temp_directory_path() / ("mpheap-wasm-" + name + ".bin");
  if (std::filesystem::exists(out)) return out.string();
  const std::string gz = data_path("wasm-pyscript/" + name + ".lo320k.bin.gz");
  gzFile in = gzopen(gz.c_str(), "rb");
  if (in == nullptr) return {};
  const std::string tmp = out.string() + "." + std::to_string(getpid());
  std::ofstream o(tmp, std::ios::binary);
  char buf[1 << 16];
  for (int n; (n = gzread(in, buf, sizeof buf)) > 0;) o.write(buf, n);
  gzclose(in);
  o.close();
  std::filesystem::rename(tmp, out);
  return out.string();
}

MemInfo firmware_mem_info(const std::string& snap) {
  return parse_mem_info(read_file(data_path("wasm-pyscript/" + snap + ".meminfo.txt")));
}

std::unique_ptr<session::AnalyzedSnapshot> analyzed(session::HeapSession& s) {
  auto a = s.analyze(0, 0);
  EXPECT_TRUE(a) << (a ? "" : a.error().message());
  return a ? std::move(*a) : nullptr;
}

Expected<session::HeapSession> open(const std::string& snap, const std::string& target_json = {}) {
  session::HeapRequest r;
  if (target_json.empty())
    r.target.firmware = kWasm;
  else
    r.target.target_json = target_json;
  r.dumps.push_back(dump(snap) + "@0x0");
  return session::HeapSession::open(r);
}

TEST(WasmModule, DataSegmentsAreTheImage) {
  auto image = io::load_firmware_image(kWasm, std::nullopt);
  ASSERT_TRUE(image) << image.error().message();
  EXPECT_EQ(image->format, io::ImageFormat::wasm);
  // 0x10000..0x2ba84, 0x2ba88..0x2bb58 and 0x2bb58..0x2d312 (the last two touch: joined).
  ASSERT_EQ(image->image.ranges().size(), 2u);
  EXPECT_EQ(image->image.ranges()[0].address, 0x10000u);
  EXPECT_EQ(image->image.ranges()[0].end(), 0x2ba84u);
  EXPECT_EQ(image->image.ranges()[1].address, 0x2ba88u);
  EXPECT_EQ(image->image.ranges()[1].end(), 0x2d312u);
}

class WasmPyscript : public ::testing::TestWithParam<std::string> {};

TEST_P(WasmPyscript, BlockMapAndGcLinesEqualMemInfo) {
  auto s = open(GetParam());
  ASSERT_TRUE(s) << s.error().message();
  const target::Target& t = s->target();
  EXPECT_EQ(t.mp_state_ctx, 0x2d318u);
  EXPECT_EQ(t.state.thread_stack_top, 0u);
  EXPECT_EQ(t.state.thread_pystack_start, 4u);
  EXPECT_EQ(t.state.thread_pystack_cur, 12u);
  EXPECT_EQ(t.state.mem_area, 0x2d494u - 0x2d318u);
  EXPECT_TRUE(t.gc_split_heap_auto);
  auto a = analyzed(*s);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->snapshot.diagnostics.empty());
  MemInfo want = firmware_mem_info(GetParam());
  ASSERT_FALSE(want.map_lines.empty());
  MemInfo got =
      parse_mem_info(report::gc_info_text(a->snapshot.totals) + report::blockmap(a->snapshot, t));
  EXPECT_EQ(got.gc_lines, want.gc_lines);
  EXPECT_EQ(got.map_lines, want.map_lines);
}

INSTANTIATE_TEST_SUITE_P(Snapshots, WasmPyscript, ::testing::Values("snap1", "snap2", "snap3"));

TEST(WasmPyscriptCli, BlockMapEqualsMemInfo) {
  for (const char* snap : {"snap1", "snap3"}) {
    auto r = run_mpheap("heap " + dump(snap) + "@0x0 --firmware " + kWasm + " --blockmap");
    ASSERT_EQ(r.status, 0) << r.out;
    MemInfo got = parse_mem_info(r.out), want = firmware_mem_info(snap);
    EXPECT_EQ(got.map_lines, want.map_lines) << snap;
    EXPECT_EQ(got.gc_lines, want.gc_lines) << snap;
  }
}

TEST(WasmPyscript, PathsNameTheProgramsGlobals) {
  auto s = open("snap1");
  ASSERT_TRUE(s) << s.error().message();
  auto a = analyzed(*s);
  ASSERT_TRUE(a);
  std::optional<std::uint64_t> sprite, config;
  for (std::uint32_t o = 0; o < a->snapshot.objects.size(); ++o) {
    auto p =
        python_path(a->snapshot, a->analysis.graph, a->analysis.reach, *a->reader, s->target(), o);
    if (!p) continue;
    if (!sprite && p->ends_with("['SPRITES'][0]")) sprite = a->snapshot.objects[o].address;
    if (!config && p->ends_with("['CONFIG']['password']")) config = a->snapshot.objects[o].address;
  }
  ASSERT_TRUE(sprite);
  ASSERT_TRUE(config);
  for (auto [address, path] :
       {std::pair(*sprite, "['SPRITES'][0]"), std::pair(*config, "['CONFIG']['password']")}) {
    auto r = run_mpheap(
        fmt::format("heap {}@0x0 --firmware {} --why 0x{:x}", dump("snap1"), kWasm, address));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find(path), std::string::npos) << r.out;
  }
}

TEST(WasmPyscript, NoGarbageAfterTheCollectionWithThePystackScanned) {
  auto s = open("postgc");
  ASSERT_TRUE(s) << s.error().message();
  auto a = analyzed(*s);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->analysis.graph.pystack);
  EXPECT_EQ(a->analysis.graph.pystack->start, 0x2d9f8u);
  EXPECT_EQ(a->snapshot.totals.used, 2000u);  // the README's table, decoded
  EXPECT_EQ(a->analysis.reach.garbage_objects, 0u);
  EXPECT_EQ(a->analysis.reach.garbage_bytes, 0u);
}

// A target written from the one-area snap1 decodes the two-area snap3 from snap3's own `next`
// chain, and says the areas differ.
TEST(WasmPyscriptCli, AreasAreFollowedInEveryDump) {
  const std::string json =
      (std::filesystem::temp_directory_path() / "mpheap-wasm-t1.json").string();
  auto w = run_mpheap("target --firmware " + kWasm + " --ram " + dump("snap1") + "@0x0 -o " + json);
  ASSERT_EQ(w.status, 0) << w.out;
  auto r = run_mpheap("heap " + dump("snap3") + "@0x0 --target " + json + " --blockmap", true);
  ASSERT_EQ(r.status, 0) << r.out;
  MemInfo got = parse_mem_info(r.out), want = firmware_mem_info("snap3");
  EXPECT_EQ(got.gc_lines, want.gc_lines);
  EXPECT_EQ(got.map_lines, want.map_lines);
  EXPECT_NE(r.out.find("this dump's heap has 2 areas"), std::string::npos) << r.out;
}

// A layout with no `next` field (as a search without the image finds it in a one-area dump) cannot
// follow the chain: the second area is not decoded, and that is said, not hidden.
TEST(WasmPyscriptCli, AnAreaTheLayoutCannotFollowIsReported) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string json = (dir / "mpheap-wasm-t2.json").string();
  const std::string edited = (dir / "mpheap-wasm-t2-nonext.json").string();
  auto w = run_mpheap("target --firmware " + kWasm + " --ram " + dump("snap1") + "@0x0 -o " + json);
  ASSERT_EQ(w.status, 0) << w.out;
  nlohmann::json t = nlohmann::json::parse(read_file(json));
  // The record as seen without `next`: it starts one word later.
  t["mp_state_ctx"]["fields"]["mem.area"] = t["mp_state_ctx"]["fields"]["mem.area"].get<int>() + 4;
  nlohmann::json fields;
  for (auto& [k, v] : t["heap_area"]["fields"].items())
    if (k != "next") fields[k] = v.get<int>() - 4;
  t["heap_area"]["fields"] = fields;
  t.erase("gc_split_heap_auto");
  std::ofstream(edited) << t.dump();
  auto r = run_mpheap("heap " + dump("snap3") + "@0x0 --target " + edited, true);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("points at 0x3fb50, which reads as another area's record (pool "
                       "0x40150..0x4fb50), but the layout in use has no `next` field"),
            std::string::npos)
      << r.out;
}

// bytearray(60000) from the snap1 state succeeds on the firmware: the heap grows to 127,936
// bytes (a new area of 3,996 blocks).
// `mpheap heap snap1 --firmware micropython.wasm --can-alloc BYTES`.
mpheap::testing::CliRun can_alloc_on_snap1(std::uint64_t bytes) {
  return run_mpheap(
      fmt::format("heap {}@0x0 --firmware {} --can-alloc {}", dump("snap1"), kWasm, bytes));
}

TEST(WasmPyscriptCli, CanAllocGrowsTheHeap) {
  auto r = can_alloc_on_snap1(60000);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("can allocate 60000 bytes: yes, by adding a heap area of 65536 bytes"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("grows from 64000 to 127936 bytes"), std::string::npos) << r.out;
  // More than the port's 128 MiB limit for a new area: no.
  auto big = can_alloc_on_snap1(200000000);
  ASSERT_EQ(big.status, 0) << big.out;
  EXPECT_NE(big.out.find("can allocate 200000000 bytes: no"), std::string::npos) << big.out;
  EXPECT_NE(big.out.find("no area is added"), std::string::npos) << big.out;
}

// This port's gc_collect() only schedules a collection: a request that would fit once the garbage
// is freed (3601 blocks free now, 3728 after a collection) grows the heap instead.
TEST(WasmPyscriptCli, GarbageIsNotFreedBeforeTheHeapGrows) {
  auto r = can_alloc_on_snap1(58000);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("can allocate 58000 bytes: yes, by adding a heap area of 65536 bytes"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("only schedules a collection"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace mpheap::heap
