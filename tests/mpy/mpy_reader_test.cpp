// .mpy reader facts: headers of every version, the size invariant on every fixture file,
// malformed files, constants and the line table.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mpheap/mpy/disasm.h"
#include "mpheap/mpy/pyrepr.h"
#include "mpheap/mpy/reader.h"
#include "mpheap/mpy/sizes.h"

namespace mpheap::mpy {
namespace {

namespace fs = std::filesystem;
const fs::path kData = fs::path(MPHEAP_TEST_DATA) / "mpy";

Expected<MpyFile> load(const std::string& rel) {
  return read_mpy_file((kData / rel).string());
}

std::vector<fs::path> all_good_files() {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(kData))
    if (e.path().extension() == ".mpy" && e.path().parent_path().filename() != "bad")
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(MpyReader, HeaderOfEveryVersion) {
  struct Case {
    const char* file;
    char magic;
    int version;
    int sub_version;  // -1: none in the format
    const char* arch;
  };
  const Case cases[] = {
      {"v1.9.4/funcs.mpy", 'M', 3, -1, "NONE"},
      {"cp-6.3.0/funcs.mpy", 'M', 3, -1, "NONE"},
      {"v1.11/nativemod.armv7m.mpy", 'M', 4, -1, "ARMV7M"},
      {"v1.12/nativemod.x64.mpy", 'M', 5, -1, "X64"},
      {"cp-8.2.10/funcs.mpy", 'C', 5, -1, "NONE"},
      {"v1.19.1/nativemod.armv6m.mpy", 'M', 6, 0, "ARMV6M"},
      {"v1.20.0/nativemod.x64.mpy", 'M', 6, 1, "X64"},
      {"v1.22.0/nativemod.armv6m.mpy", 'M', 6, 2, "ARMV6M"},
      {"v1.28.0/nativemod.x64.mpy", 'M', 6, 3, "X64"},
      {"cp-9.2.9/nativemod.armv6m.mpy", 'C', 6, 3, "ARMV6M"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    auto f = load(c.file);
    ASSERT_TRUE(f) << f.error().message();
    EXPECT_EQ(f->header.magic, c.magic);
    EXPECT_EQ(f->header.version, c.version);
    EXPECT_EQ(f->header.small_int_bits, 31);
    EXPECT_STREQ(arch_name(f->header.arch), c.arch);
    if (c.sub_version >= 0) {
      ASSERT_TRUE(f->header.sub_version.has_value());
      EXPECT_EQ(*f->header.sub_version, c.sub_version);
    } else {
      EXPECT_FALSE(f->header.sub_version.has_value());
    }
  }
}

// Every byte of every file belongs to exactly one part: the parts sum to the file size.
TEST(MpySizes, PartsSumToFileSizeOnEveryFixture) {
  auto files = all_good_files();
  ASSERT_GE(files.size(), 100u);
  for (const auto& p : files) {
    SCOPED_TRACE(p.string());
    auto f = read_mpy_file(p.string());
    ASSERT_TRUE(f) << f.error().message();
    FileSizes s = size_breakdown(*f);
    EXPECT_EQ(total(s.parts), fs::file_size(p));
    std::uint64_t by_function = total(s.file_level);
    for (const auto& fn : s.functions) by_function += fn.total;
    EXPECT_EQ(by_function, fs::file_size(p));
  }
}

TEST(MpySizes, V6ConstsBreakdown) {
  // consts.mpy of v1.28.0: header 0-3, counts 4-5, qstr table 6-468, obj table 469-1430,
  // module raw code from 1431 (see the fixture README).
  auto f = load("v1.28.0/consts.mpy");
  ASSERT_TRUE(f);
  FileSizes s = size_breakdown(*f);
  EXPECT_EQ(s.file_level[static_cast<std::size_t>(Part::Header)], 6u);
  EXPECT_EQ(s.file_level[static_cast<std::size_t>(Part::Qstrs)], 469u - 6u);
  EXPECT_EQ(s.file_level[static_cast<std::size_t>(Part::Constants)], 1431u - 469u);
  EXPECT_EQ(f->module.file_offset, 1431u);
  EXPECT_EQ(f->module.data.size(), 260u);
}

TEST(MpyReader, ConstantsOfEveryKind) {
  auto f = load("v1.28.0/consts.mpy");
  ASSERT_TRUE(f);
  std::vector<std::string> reprs;
  for (const auto& o : f->objs) reprs.push_back(py_repr(o));
  auto has = [&](const std::string& r) {
    return std::find(reprs.begin(), reprs.end(), r) != reprs.end();
  };
  EXPECT_TRUE(has("Ellipsis"));
  EXPECT_TRUE(has("1000000000000000000000000000000"));  // 10**30, a big int
  EXPECT_TRUE(has("-1180591620717411303424"));          // -(2**70)
  EXPECT_TRUE(has("2j"));
  EXPECT_TRUE(has("0.5j"));
  EXPECT_TRUE(has("-0.0001"));
  EXPECT_TRUE(has("18446744073709551616"));
  EXPECT_TRUE(has("6.02e+23"));
  bool tuple = false, bytes = false;
  for (const auto& o : f->objs) {
    tuple |= o.kind == Constant::Kind::Tuple;
    bytes |= o.kind == Constant::Kind::Bytes;
  }
  EXPECT_TRUE(tuple);
  EXPECT_TRUE(bytes);
}

TEST(MpyReader, PythonReprRules) {
  EXPECT_EQ(py_float_repr(1e16), "1e+16");
  EXPECT_EQ(py_float_repr(1e15), "1000000000000000.0");
  EXPECT_EQ(py_float_repr(0.0001), "0.0001");
  EXPECT_EQ(py_float_repr(0.00001), "1e-05");
  EXPECT_EQ(py_float_repr(-2.5), "-2.5");
  EXPECT_EQ(py_str_repr("it's"), "\"it's\"");
  EXPECT_EQ(py_str_repr("a\nb"), "'a\\nb'");
  EXPECT_EQ(py_bytes_repr(std::string("\x00\xff", 2)), "b'\\x00\\xff'");
}

TEST(MpyReader, LineNumbersDecodeToSourceLines) {
  // funcs.py: `def plain(a, b):` is followed by its return on the next line.
  auto f = load("v1.28.0/funcs.mpy");
  ASSERT_TRUE(f);
  const RawCode& plain = f->module.children.at(0);
  EXPECT_EQ(plain.name, "plain");
  ASSERT_FALSE(plain.lines.empty());
  EXPECT_GT(plain.lines.back().line, 1u);
  // Raw-code kinds of the native module.
  auto n = load("v1.28.0/nativemod.x64.mpy");
  ASSERT_TRUE(n);
  std::vector<CodeKind> kinds;
  for (const auto& c : n->module.children) kinds.push_back(c.kind);
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), CodeKind::Native), kinds.end());
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), CodeKind::Viper), kinds.end());
  for (const auto& c : n->module.children) {
    if (c.kind == CodeKind::Viper) {
      EXPECT_EQ(c.name.rfind("viper", 0), 0u) << c.name;
    }
  }
}

// The malformed samples: each rejected with the byte offset where it goes wrong, or accepted
// where the format allows it (mpy-tool-results.txt lists what the reference tool did).
TEST(MpyReader, MalformedFiles) {
  struct Case {
    const char* file;
    bool ok;
    std::uint64_t offset;
    const char* what;  // substring of the message
  };
  const Case cases[] = {
      {"empty.mpy", false, 0, "magic byte"},
      {"v6-trunc-header.mpy", false, 3, "small-int bits"},
      {"v6-trunc-qstr-table.mpy", false, 197, "qstr characters"},
      {"v6-trunc-obj-table.mpy", false, 746, "object data"},
      {"v6-trunc-mid-bytecode.mpy", false, 1433, "raw code data"},
      {"v6-trunc-child-code.mpy", false, 1731, "raw code data"},
      {"v6-bad-magic.mpy", false, 0, "magic byte 'M'"},
      {"v6-bad-version.mpy", false, 1, "version 3, 4, 5 or 6 expected, found 7"},
      {"v6-len-code-past-end.mpy", false, 1433, "2047 bytes expected, but only 330 are left"},
      {"v6-len-str-past-end.mpy", false, 746, "16383 bytes expected"},
      {"v6-qstr-count-too-big.mpy", false, 472, "NUL"},
      {"v5-trunc-mid-bytecode.mpy", false, 5755, "expected, but the file ends"},
      {"v3-trunc-mid-file.mpy", false, 697, "qstr characters"},
      {"v3-bad-version.mpy", false, 1, "found 9"},
      {"v6-subversion-2.mpy", true, 0, ""},
      {"v6-bad-arch.mpy", true, 0, ""},
      {"v6-native-subversion-1.mpy", true, 0, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    auto f = load(std::string("bad/") + c.file);
    ASSERT_EQ(f.has_value(), c.ok) << (f ? "" : f.error().message());
    if (c.ok) continue;
    EXPECT_EQ(f.error().offset, c.offset) << f.error().message();
    EXPECT_NE(f.error().what.find(c.what), std::string::npos) << f.error().what;
    EXPECT_NE(f.error().message().find(c.file), std::string::npos);
  }
  auto sub = load("bad/v6-native-subversion-1.mpy");
  ASSERT_TRUE(sub);
  EXPECT_EQ(*sub->header.sub_version, 1);
  auto arch = load("bad/v6-bad-arch.mpy");
  ASSERT_TRUE(arch);
  EXPECT_STREQ(arch_name(arch->header.arch), "UNKNOWN");
}

// Every prefix of a file is rejected cleanly (never a crash, always an offset in the file).
TEST(MpyReader, EveryTruncationIsAnError) {
  for (const char* name : {"v1.28.0/nativemod.armv6m.mpy", "v1.18/nativemod.x64.mpy",
                           "v1.11/classes.mpy", "v1.9.4/control.mpy"}) {
    std::ifstream in(kData / name, std::ios::binary);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    ASSERT_FALSE(bytes.empty());
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      auto f = read_mpy({bytes.data(), n}, name);
      ASSERT_FALSE(f) << name << " cut at " << n;
      EXPECT_LE(f.error().offset, n);
    }
    EXPECT_TRUE(read_mpy(bytes, name));
  }
}

}  // namespace
}  // namespace mpheap::mpy
