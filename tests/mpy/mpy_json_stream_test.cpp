// The streamed --json document: the same text as the files' objects joined into the
// documented shape, written while the files are read.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "mpheap/mpy/reader.h"
#include "mpheap/report/mpy_report.h"
#include "mpheap/report/output.h"

namespace mpheap::report {
namespace {

namespace fs = std::filesystem;
const fs::path kData = fs::path(MPHEAP_TEST_DATA) / "mpy";

TEST(MpyJsonStream, DocumentIsTheFileObjectsThenTheErrors) {
  auto a = mpy::read_mpy_file((kData / "v1.28.0/funcs.mpy").string());
  auto b = mpy::read_mpy_file((kData / "v1.12/funcs.mpy").string());
  ASSERT_TRUE(a && b);
  std::vector<Error> errors = {{"x.mpy", 0, 7, "magic byte \"M\" expected"}};
  fs::path path = fs::temp_directory_path() / ("mpy_stream_" + std::to_string(getpid()) + ".json");
  {
    auto out = Output::open(path.string());
    ASSERT_TRUE(out);
    MpyJsonStream json(**out, true);
    json.add(*a);
    json.add(*b);
    json.finish(errors);
    ASSERT_TRUE((*out)->close());
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  fs::remove(path);

  std::string want =
      "{\"format\":\"mpheap-mpy\",\"version\":" + std::to_string(kMpyJsonFormatVersion) +
      ",\"files\":[";
  append_file_json(want, *a, true);
  want += ',';
  append_file_json(want, *b, true);
  want +=
      "],\"errors\":[{\"path\":\"x.mpy\",\"offset\":7,\"message\":\"magic byte \\\"M\\\" "
      "expected\"}]}\n";
  EXPECT_EQ(text.str(), want);
  auto doc = nlohmann::json::parse(text.str());
  EXPECT_EQ(doc["files"].size(), 2u);
  EXPECT_EQ(doc["errors"][0]["offset"], 7);
}

TEST(MpyJsonStream, NoFilesIsAnEmptyList) {
  fs::path path = fs::temp_directory_path() / ("mpy_stream0_" + std::to_string(getpid()) + ".json");
  {
    auto out = Output::open(path.string());
    ASSERT_TRUE(out);
    MpyJsonStream json(**out, false);
    json.finish({});
    ASSERT_TRUE((*out)->close());
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  fs::remove(path);
  EXPECT_EQ(text.str(),
            "{\"format\":\"mpheap-mpy\",\"version\":" + std::to_string(kMpyJsonFormatVersion) +
                ",\"files\":[],\"errors\":[]}\n");
}

}  // namespace
}  // namespace mpheap::report
