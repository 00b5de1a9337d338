// `mpheap heap` and `mpheap report` run one pipeline (session::HeapSession): for every snapshot
// of every fixture sequence they give the same census, the same garbage and the same retainers.
// Before the pipeline moved into the library, the report left out the registers a capture keeps
// in its headers and counted more garbage than `mpheap heap`.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_runner.h"
#include "mpheap/io/snapshot_sequence.h"
#include "report/page_data.h"
#include "trace/test_util.h"

namespace mpheap::testing {
namespace {

using nlohmann::json;

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("mpheap_agree_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// What one snapshot says about its objects, in address order.
struct View {
  std::vector<std::string> types, paths;
  std::vector<std::uint32_t> retained;
  std::vector<bool> garbage;
};

std::vector<View> heap_views(const std::string& args) {
  CliRun r = run_mpheap("heap " + args + " --snapshot all --json");
  EXPECT_EQ(r.status, 0) << args;
  std::vector<View> out;
  std::istringstream in(r.out);
  while (in >> std::ws && in.peek() != EOF) {
    json j;
    in >> j;
    EXPECT_EQ(j["version"], 3);
    View v;
    std::uint64_t garbage_objects = 0;
    std::map<std::string, std::size_t> by_address;
    for (const json& o : j["objects"]) by_address[o["address"]] = by_address.size();
    for (const json& o : j["objects"]) {
      v.types.push_back(o["type"]);
      v.garbage.push_back(o["garbage"]);
      garbage_objects += o["garbage"].get<bool>() ? 1 : 0;
      // A deep path starts at an ancestor's (held_by_from): prefix the ancestors' paths.
      std::string path = o["garbage"].get<bool>() ? "" : o["held_by"].get<std::string>();
      for (const json* x = &o; x->contains("held_by_from");) {
        x = &j["objects"][by_address.at((*x)["held_by_from"])];
        path = (*x)["held_by"].get<std::string>() + path;
      }
      v.paths.push_back(path);
      v.retained.push_back(o["retained_bytes"]);
    }
    EXPECT_EQ(j["garbage"]["objects"], garbage_objects);
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<View> report_views(const std::string& args) {
  std::string page = temp_path("report.html");
  CliRun r = run_mpheap("report -o " + page + " " + args, true);
  EXPECT_EQ(r.status, 0) << r.out;
  json j = embedded_data(read_file(page));
  std::filesystem::remove(page);
  std::vector<View> out;
  const json& strings = j["snapshots"]["strings"];
  for (const json& s : j["snapshots"]["list"]) {
    View v;
    auto type = u32s(s["objects"]["type"]);
    auto parent = u32s(s["objects"]["parent"]);
    auto hop = u32s(s["objects"]["hop"]);
    auto retained = u32s(s["objects"]["retained"]);
    auto garbage = column(s["objects"]["garbage"], 1);
    for (std::size_t i = 0; i < type.size(); ++i) {
      v.types.push_back(strings[type[i]]);
      // The path is the hops from the root down: parent is an index + 1, 0 at the root.
      std::string path;
      for (std::size_t k = i + 1; k != 0 && path.size() < (1u << 20); k = parent[k - 1])
        path = strings[hop[k - 1]].get<std::string>() + path;
      v.paths.push_back(path);
      v.retained.push_back(retained[i]);
      v.garbage.push_back(garbage[i] != 0);
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::size_t count_garbage(const View& v) {
  std::size_t n = 0;
  for (bool g : v.garbage) n += g ? 1 : 0;
  return n;
}

void expect_agree(const std::vector<View>& heap, const std::vector<View>& report,
                  std::size_t snapshots) {
  ASSERT_EQ(heap.size(), snapshots);
  ASSERT_EQ(report.size(), snapshots);
  for (std::size_t i = 0; i < snapshots; ++i) {
    SCOPED_TRACE("snapshot " + std::to_string(i));
    ASSERT_EQ(heap[i].types.size(), report[i].types.size());
    EXPECT_EQ(heap[i].types, report[i].types);
    EXPECT_EQ(heap[i].garbage, report[i].garbage);
    EXPECT_EQ(heap[i].retained, report[i].retained);
    EXPECT_EQ(heap[i].paths, report[i].paths);
  }
}

TEST(HeapAndReportAgree, QemuMicrobitSequence) {
  // 120 whole-RAM dumps of MicroPython 1.28 in QEMU, map/nm target.
  const std::string dir = data_path("qemu-microbit/");
  const std::string target =
      "--map " + dir + "firmware.map --nm " + dir + "firmware.nm --qstrs " + dir + "rom_qstrs.txt";
  auto heap = heap_views(dir + "ram_seq.bin@0x20000000 " + target);
  auto report = report_views("--heap " + dir + "ram_seq.bin@0x20000000 " + target);
  expect_agree(heap, report, 120);
  // Not vacuous: the late snapshots have names and paths.
  const View& last = heap.back();
  EXPECT_NE(std::find(last.types.begin(), last.types.end(), "dict table"), last.types.end());
}

// A capture sequence whose headers carry the registers at each dump, as `mpheap capture
// snapshots` writes it, made from Debian's micro:bit firmware dumps and their `info registers`.
std::string debian_sequence_with_registers(std::size_t* count) {
  const std::regex reg(R"(^(r\d+|sp|lr|pc)\s+0x([0-9a-f]+))");
  std::string path = temp_path("debian.seq");
  std::ofstream out(path, std::ios::binary);
  *count = 0;
  for (std::size_t n = 0;; ++n) {
    std::string base = data_path("microbit-debian/sequence/snap" + std::to_string(n));
    if (!std::filesystem::exists(base + "_ram.bin")) break;
    std::string ram = read_file(base + "_ram.bin");
    std::map<std::string, std::uint32_t> regs;
    std::istringstream lines(read_file(base + "_regs.txt"));
    for (std::string line; std::getline(lines, line);) {
      std::smatch m;
      if (std::regex_search(line, m, reg))
        regs[m[1]] = static_cast<std::uint32_t>(std::stoul(m[2], nullptr, 16));
    }
    EXPECT_EQ(regs.size(), 16u) << base;
    std::string g;  // the `g` reply: r0..r12, sp, lr, pc, 4 bytes each, little-endian
    for (int i = 0; i < 16; ++i) {
      std::string name = i <= 12 ? "r" + std::to_string(i) : i == 13 ? "sp" : i == 14 ? "lr" : "pc";
      for (int b = 0; b < 4; ++b) g += fmt::format("{:02x}", (regs[name] >> (8 * b)) & 0xffu);
    }
    io::SnapshotHeader h;
    h.index = n;
    h.time_ms = static_cast<double>(n) * 100.0;
    h.start = 0x20000000;
    h.end = 0x20000000 + ram.size();
    h.trigger = "start";
    h.registers = g;
    out << io::format_snapshot_header(h) << ram;
    ++*count;
  }
  return path;
}

TEST(HeapAndReportAgree, CaptureSequenceWithRegistersInItsHeaders) {
  if (!std::filesystem::exists(kDebianMicrobitHex))
    GTEST_SKIP() << kDebianMicrobitHex << " is not installed";
  std::size_t count = 0;
  std::string seq = debian_sequence_with_registers(&count);
  ASSERT_EQ(count, 9u);
  const std::string target = std::string(" --firmware ") + kDebianMicrobitHex;
  auto heap = heap_views(seq + target);
  auto report = report_views("--heap " + seq + target);
  // Without the headers' registers (a raw copy of the same dumps) the stack is not scanned and
  // more objects count as garbage: the registers make a difference here.
  std::string raw = temp_path("debian.raw");
  {
    std::ofstream out(raw, std::ios::binary);
    for (std::size_t n = 0; n < count; ++n)
      out << read_file(data_path("microbit-debian/sequence/snap" + std::to_string(n) + "_ram.bin"));
  }
  auto unrooted = heap_views(raw + "@0x20000000" + target + " --dump-size 16384");
  std::filesystem::remove(seq);
  std::filesystem::remove(raw);
  expect_agree(heap, report, count);
  ASSERT_EQ(unrooted.size(), count);
  std::size_t differ = 0;
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_LE(count_garbage(heap[i]), count_garbage(unrooted[i])) << i;
    differ += count_garbage(heap[i]) < count_garbage(unrooted[i]) ? 1 : 0;
  }
  EXPECT_GT(differ, 0u) << "the stack holds objects in at least one snapshot";
}

// Every other fixture snapshot, one at a time: the dump, the other memory and the description.
struct Single {
  const char* name;
  std::string dump, args;  // args: --mem, the description, --regs
};

std::vector<Single> singles() {
  std::vector<Single> out;
  const std::string mps2 = data_path("qemu-mps2-splitheap/");
  for (int n = 1; n <= 3; ++n)
    out.push_back({"splitheap", mps2 + "snap" + std::to_string(n) + "_ram.bin@0x187454",
                   " --map " + mps2 + "firmware.map --nm " + mps2 + "firmware.nm --qstrs " + mps2 +
                       "rom_qstrs.txt"});
  for (const char* dir : {"unix-x64/", "circuitpython-unix/"}) {
    const std::string d = data_path(dir);
    const bool unix = std::string(dir) == "unix-x64/";
    const char* heap_at = unix ? "@0x5555555f32d0" : "@0x5555555df2d0";
    const char* ctx_at = unix ? "@0x5555555f2440" : "@0x5555555de3a0";
    for (int n = 1; n <= 2; ++n) {
      const std::string snap = d + "snap" + std::to_string(n);
      out.push_back({dir, snap + "_heap.bin" + heap_at,
                     " --mem " + snap + "_mp_state_ctx.bin" + ctx_at + " --nm " + d +
                         "firmware.nm --qstrs " + d + "rom_qstrs.txt"});
    }
  }
  if (std::filesystem::exists(kDebianMicrobitHex))
    for (const char* folder : {"named", "alloc"})
      for (int n = 0; n <= 3; ++n) {
        const std::string snap =
            data_path("microbit-debian/") + folder + "/snap" + std::to_string(n);
        if (!std::filesystem::exists(snap + "_ram.bin")) continue;
        out.push_back(
            {folder, snap + "_ram.bin@0x20000000",
             std::string(" --firmware ") + kDebianMicrobitHex + " --regs " + snap + "_regs.txt"});
      }
  return out;
}

TEST(HeapAndReportAgree, EveryOtherFixtureSnapshot) {
  auto all = singles();
  ASSERT_GE(all.size(), 7u);
  for (const Single& s : all) {
    SCOPED_TRACE(s.dump);
    auto heap = heap_views(s.dump + s.args);
    auto report = report_views("--heap " + s.dump + s.args);
    expect_agree(heap, report, 1);
  }
}

}  // namespace
}  // namespace mpheap::testing
