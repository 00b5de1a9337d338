// `mpheap target --firmware IMAGE --json` on the Pybricks images (tests/data/pybricks: firmware
// built by others, with their truth found from the bytes): without --base, the ROM qstrs, the
// type objects (nameless ones included), the load address and the version must be exactly the
// fixture's rom_qstrs.txt, types.json and facts.json.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/cli_runner.h"
#include "trace/test_util.h"

namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

// rom_qstrs.txt: "index 'python literal'" per line, appended to `out` (indices follow on).
void read_rom_qstrs(const std::string& path, std::vector<std::string>& out) {
  std::string text = read_file(path);
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t nl = text.find('\n', at);
    std::string line = text.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? text.size() : nl + 1;
    if (line.empty()) continue;
    std::size_t sp = line.find(' ');
    EXPECT_EQ(std::stoul(line.substr(0, sp)), out.size()) << line;
    std::string lit = line.substr(sp + 1);
    EXPECT_GE(lit.size(), 2u);
    const char quote = lit.front();
    EXPECT_EQ(lit.back(), quote) << line;
    std::string s;
    for (std::size_t i = 1; i + 1 < lit.size(); ++i) {
      char c = lit[i];
      if (c != '\\') {
        s += c;
        continue;
      }
      char e = lit[++i];
      switch (e) {
        case 'n':
          s += '\n';
          break;
        case 't':
          s += '\t';
          break;
        case 'r':
          s += '\r';
          break;
        case 'x':
          s += static_cast<char>(std::stoi(lit.substr(i + 1, 2), nullptr, 16));
          i += 2;
          break;
        default:
          s += e;  // \\ \' \"
      }
    }
    out.push_back(s);
  }
}

std::uint64_t address(const nlohmann::json& j) {
  return std::stoull(j.get<std::string>(), nullptr, 16);
}

// "<type @0x0804d07c": how a nameless type's name starts.
std::string fmt_address(std::uint64_t a) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "<type @0x%08llx", static_cast<unsigned long long>(a));
  return buf;
}

struct Hub {
  const char* name;
  std::uint64_t load;  // of the image itself (ev3: the ELF inside the container)
};

class PybricksImage : public ::testing::TestWithParam<Hub> {};

TEST_P(PybricksImage, TargetJsonWithoutBaseEqualsTheFixturesTruth) {
  const Hub& hub = GetParam();
  const std::string dir = data_path(std::string("pybricks/") + hub.name + "/");
  auto r = mpheap::testing::run_mpheap("target --firmware " + dir + "firmware-base.bin --json");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);

  // ROM qstrs: exactly rom_qstrs.txt, in order.
  std::vector<std::string> want_qstrs;
  read_rom_qstrs(dir + "rom_qstrs.txt", want_qstrs);
  auto facts = nlohmann::json::parse(read_file(dir + "facts.json"));
  ASSERT_EQ(want_qstrs.size(), facts["qstrs"].get<std::size_t>());
  // cityhub's fixture misses its frozen pool (2 qstrs after the 660; see
  // tests/data/pybricks/README.md): rom_qstrs_frozen.txt lists them.
  if (std::FILE* extra = std::fopen((dir + "rom_qstrs_frozen.txt").c_str(), "r")) {
    std::fclose(extra);
    read_rom_qstrs(dir + "rom_qstrs_frozen.txt", want_qstrs);
  }
  std::vector<std::string> got_qstrs = j["rom_qstrs"].get<std::vector<std::string>>();
  ASSERT_EQ(got_qstrs.size(), want_qstrs.size());
  for (std::size_t i = 0; i < want_qstrs.size(); ++i)
    ASSERT_EQ(got_qstrs[i], want_qstrs[i]) << "qstr " << i;
  EXPECT_EQ(j["qstr_pool"]["hash_bytes"].get<std::uint32_t>(),
            facts["hash_bytes"].get<std::uint32_t>());

  // Type objects: exactly types.json's addresses and names; nameless ones ("" there) are
  // named "<type @0x... {methods}>" here.
  auto want_types = nlohmann::json::parse(read_file(dir + "types.json"));
  ASSERT_EQ(want_types.size(), facts["types"].get<std::size_t>());
  const auto& got_types = j["types"];
  ASSERT_EQ(got_types.size(), want_types.size());
  std::size_t nameless = 0;
  for (std::size_t i = 0; i < want_types.size(); ++i) {
    const std::uint64_t a = address(want_types[i][0]);
    const std::string name = want_types[i][1].get<std::string>();
    EXPECT_EQ(address(got_types[i]["address"]), a) << "type " << i;
    const std::string got = got_types[i]["name"].get<std::string>();
    if (name.empty()) {
      ++nameless;
      EXPECT_EQ(got.rfind(fmt_address(a), 0), 0u) << got;
    } else {
      EXPECT_EQ(got, name) << "type at " << want_types[i][0];
    }
  }
  EXPECT_EQ(nameless, facts["nameless"].get<std::size_t>());

  // mp_type_type, the load address, the version.
  bool type_type = false;
  for (const auto& s : j["symbols"])
    if (s["name"] == "mp_type_type")
      type_type = address(s["address"]) == address(facts["mp_type_type"]);
  EXPECT_TRUE(type_type);
  const auto& fw = j["firmware"];
  EXPECT_EQ(address(fw["load_address"]), hub.load) << fw.dump();
  if (facts["version"].is_null()) {
    EXPECT_TRUE(fw["micropython_version"].is_null()) << fw.dump();
    EXPECT_NE(fw["version_source"].get<std::string>().find("unknown"), std::string::npos);
    // Never a guess, but the layouts' lower bound (movehub: pools without hashes, 1.23+).
    EXPECT_NE(fw["version_source"].get<std::string>().find("or later"), std::string::npos);
  } else {
    const auto& v = facts["version"];
    EXPECT_EQ(fw["micropython_version"].get<std::string>(),
              std::to_string(v[0].get<int>()) + "." + std::to_string(v[1].get<int>()) + "." +
                  std::to_string(v[2].get<int>()));
    EXPECT_NE(fw["version_source"].get<std::string>().find("sys.implementation.version"),
              std::string::npos);
  }
}

// Bad or mismatched input: one clear message and a non-zero exit.
TEST(PybricksCli, ClearMessagesForWrongInput) {
  const std::string prime = data_path("pybricks/primehub/firmware-base.bin");
  auto wrong =
      mpheap::testing::run_mpheap("target --firmware " + prime + " --base 0x08000000", true);
  EXPECT_EQ(wrong.status, 1);
  EXPECT_NE(wrong.out.find("pass --base 0x08008000"), std::string::npos) << wrong.out;
  auto qstrs = mpheap::testing::run_mpheap(
      "target --firmware " + prime + " --qstrs " + data_path("pybricks/primehub/rom_qstrs.txt"),
      true);
  EXPECT_EQ(qstrs.status, 2);
  EXPECT_NE(qstrs.out.find("--qstrs: not used with --firmware"), std::string::npos) << qstrs.out;
  auto container = mpheap::testing::run_mpheap(
      "target --elf " + data_path("pybricks/ev3/firmware-base.bin"), true);
  EXPECT_EQ(container.status, 1);
  EXPECT_NE(container.out.find("an ELF starts at file offset 0x50000"), std::string::npos)
      << container.out;
  // The evidence: the inferred base, its votes and the runner-up, the version's source.
  auto notes = mpheap::testing::run_mpheap("target --firmware " + prime, true);
  EXPECT_EQ(notes.status, 0);
  EXPECT_NE(notes.out.find("load address 0x08008000: inferred"), std::string::npos) << notes.out;
  EXPECT_NE(notes.out.find("runner-up"), std::string::npos);
  EXPECT_NE(notes.out.find("version \"1.26.1\": from the ROM tuple"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Hubs, PybricksImage,
                         ::testing::Values(Hub{"cityhub", 0x08005000}, Hub{"movehub", 0x08005000},
                                           Hub{"primehub", 0x08008000}, Hub{"ev3", 0xc0000000}),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
