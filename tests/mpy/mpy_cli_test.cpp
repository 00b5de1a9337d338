// `mpheap mpy` end to end: size breakdown, --disasm, --json, bad files among good ones.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

namespace {

namespace fs = std::filesystem;
const std::string kData = std::string(MPHEAP_TEST_DATA) + "/mpy";

struct CliRun {
  int status;
  std::string out;
};

CliRun run(const std::string& args) {
  std::string cmd = std::string(MPHEAP_CLI) + " mpy " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int st = pclose(p);
  return {WEXITSTATUS(st), out};
}

TEST(MpyCli, SizeBreakdownOfOneFile) {
  CliRun r = run(kData + "/v1.28.0/funcs.mpy");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("1089 bytes, mpy v6, 28 raw codes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("total                1089  100.0%"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("call_forms"), std::string::npos);
}

TEST(MpyCli, DirectoryWithBadFilesStillReportsTheGoodOnes) {
  CliRun r = run(kData + "/bad");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("3 files, 6082 bytes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("largest functions across all files"), std::string::npos);
}

TEST(MpyCli, DisasmPrintsMpyToolMnemonics) {
  CliRun r = run("--disasm " + kData + "/v1.28.0/funcs.mpy");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("  32:00       MAKE_FUNCTION 0"), std::string::npos);
  EXPECT_NE(r.out.find("  f2          BINARY_OP 27 __add__ "), std::string::npos);
  EXPECT_NE(r.out.find("simple_name: make_counter"), std::string::npos);
}

TEST(MpyCli, JsonHasTheDocumentedShape) {
  CliRun r = run("--json " + kData + "/v1.28.0/nativemod.x64.mpy " + kData + "/bad/empty.mpy");
  EXPECT_EQ(r.status, 1);
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["format"], "mpheap-mpy");
  EXPECT_EQ(doc["version"], 1);
  ASSERT_EQ(doc["files"].size(), 1u);
  ASSERT_EQ(doc["errors"].size(), 1u);
  EXPECT_EQ(doc["errors"][0]["offset"], 0);
  const auto& m = doc["files"][0]["module"];
  EXPECT_EQ(m["kind"], "bytecode");
  EXPECT_EQ(m["name"], "<module>");
  EXPECT_EQ(m["instructions"][0]["offset"], 0);
  std::set<std::string> kinds;
  for (const auto& c : m["children"]) kinds.insert(c["kind"].get<std::string>());
  EXPECT_TRUE(kinds.count("native"));
  EXPECT_TRUE(kinds.count("viper"));
  EXPECT_TRUE(kinds.count("bytecode"));
  bool found_store = false;
  for (const auto& i : m["instructions"])
    if (i["opcode"] == "STORE_NAME") found_store = true;
  EXPECT_TRUE(found_store);
}

}  // namespace
