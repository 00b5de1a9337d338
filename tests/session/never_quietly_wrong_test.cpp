// Inputs people really give mpheap that once gave a plausible wrong answer, a crash or an
// unhelpful message: each now works or says what is wrong and what would fit, with exit status 1
// for bad input and 2 for usage errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_runner.h"
#include "trace/test_util.h"

namespace mpheap::testing {
namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("mpheap_nqw_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

const std::string kQemu = data_path("qemu-microbit/");
const std::string kQemuMapNm = " --map " + kQemu + "firmware.map --nm " + kQemu + "firmware.nm";
const std::string kQemuTarget = kQemuMapNm + " --qstrs " + kQemu + "rom_qstrs.txt";
const std::string kSnap2 = " " + kQemu + "snap2_ram.bin@0x20000000";

// The types of a snapshot's objects, as `mpheap heap --json` gives them.
std::vector<std::string> types_of(const std::string& args) {
  CliRun r = run_mpheap("heap " + args + " --json");
  EXPECT_EQ(r.status, 0) << args;
  std::vector<std::string> out;
  if (r.status != 0) return out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  for (const auto& o : j["objects"]) out.push_back(o["type"]);
  return out;
}

TEST(NeverQuietlyWrong, ALateSnapshotOfASequenceIsNamedAsWhenCutOutAlone) {
  // Dump 0 of ram_seq.bin was taken before __main__'s globals existed: a layout found in it
  // alone lacks vm.dict_main and the heap qstr pools, and snapshot 119 lost its names.
  std::string seq = kQemu + "ram_seq.bin@0x20000000";
  std::string alone = temp_path("dump119.bin");
  {
    std::string all = read_file(kQemu + "ram_seq.bin");
    ASSERT_EQ(all.size(), 120u * 16384u);
    std::ofstream(alone, std::ios::binary) << all.substr(119 * 16384, 16384);
  }
  auto from_sequence = types_of(seq + kQemuTarget + " --snapshot 119");
  auto cut_out = types_of(alone + "@0x20000000" + kQemuTarget);
  std::filesystem::remove(alone);
  EXPECT_EQ(from_sequence, cut_out);
  EXPECT_EQ(std::count(from_sequence.begin(), from_sequence.end(), "dict table"), 4);
  EXPECT_EQ(std::count(from_sequence.begin(), from_sequence.end(), "unknown"), 0);
  CliRun why = run_mpheap("heap " + seq + kQemuTarget + " --snapshot 119 --why 0x20000490");
  EXPECT_TRUE(has(why.out, "SPRITES") || has(why.out, "dict_main[")) << why.out;
}

TEST(NeverQuietlyWrong, ADamagedLastDumpKeepsTheFirstDumpsLayoutAndSaysSo) {
  std::string seq = temp_path("damaged.seq");
  {
    std::string all = read_file(kQemu + "ram_seq.bin");
    std::ofstream(seq, std::ios::binary) << all.substr(0, 119 * 16384) << std::string(16384, '\0');
  }
  CliRun early = run_mpheap("heap " + seq + "@0x20000000" + kQemuTarget + " --snapshot 60", true);
  CliRun last = run_mpheap("heap " + seq + "@0x20000000" + kQemuTarget + " --snapshot 119", true);
  std::filesystem::remove(seq);
  EXPECT_EQ(early.status, 0) << early.out;
  EXPECT_TRUE(has(early.out, "the struct layouts come from the first dump")) << early.out;
  EXPECT_TRUE(has(early.out, "objects by type")) << early.out;
  EXPECT_EQ(last.status, 1) << last.out;  // the zeroed dump itself cannot be decoded
  EXPECT_TRUE(has(last.out, "snapshot 119")) << last.out;
}

TEST(NeverQuietlyWrong, AMapOfAnotherBuildIsRefused) {
  // Debian's micro:bit firmware dump with the map/nm of the QEMU 1.28 build: the heap's blocks
  // decode (the collector's layout is the same) but no type pointer hits a type of the map.
  CliRun r = run_mpheap(
      "heap " + data_path("microbit-debian/named/snap1_ram.bin") + "@0x20000000" + kQemuMapNm,
      true);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r.out, "another build")) << r.out;
  EXPECT_FALSE(has(r.out, "objects by type")) << r.out;
  // The right pairing still decodes.
  CliRun ok = run_mpheap("heap" + kSnap2 + kQemuTarget);
  EXPECT_EQ(ok.status, 0);
  EXPECT_TRUE(has(ok.out, "CONFIG")) << ok.out;
}

TEST(NeverQuietlyWrong, OverlappingDumpsAreRefused) {
  CliRun mem = run_mpheap(
      "heap" + kSnap2 + kQemuTarget + " --mem " + kQemu + "snap1_ram.bin@0x20000000", true);
  EXPECT_EQ(mem.status, 1);
  EXPECT_TRUE(has(mem.out, "overlaps")) << mem.out;
  EXPECT_TRUE(has(mem.out, "0x20000000..0x20004000")) << mem.out;
  CliRun ram = run_mpheap(
      "heap" + kSnap2 + kQemuTarget + " --ram " + kQemu + "snap1_ram.bin@0x20001000", true);
  EXPECT_EQ(ram.status, 1);
  EXPECT_TRUE(has(ram.out, "at 0x20001000..0x20004000")) << ram.out;
}

TEST(NeverQuietlyWrong, NmOutputGivenAsTheQstrListIsRefused) {
  CliRun r = run_mpheap("heap" + kSnap2 + kQemuMapNm + " --qstrs " + kQemu + "firmware.nm", true);
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(has(r.out, "firmware.nm:1: qstr 0 (MP_QSTRnull)")) << r.out;
  EXPECT_TRUE(has(r.out, "looks like nm or map output")) << r.out;
}

TEST(NeverQuietlyWrong, ABlockSizeOfZeroIsAUsageError) {
  for (const char* cmd : {"heap", "report -o /dev/null --heap"}) {
    CliRun r = run_mpheap(std::string(cmd) + kSnap2 + kQemuTarget + " --block-size 0", true);
    EXPECT_EQ(r.status, 2) << cmd << ": " << r.out;  // was SIGFPE
    EXPECT_TRUE(has(r.out, "--block-size: expected a power of two")) << r.out;
  }
  CliRun odd = run_mpheap("heap" + kSnap2 + kQemuTarget + " --block-size 24", true);
  EXPECT_EQ(odd.status, 2) << odd.out;
  // A target.json with a block size the collector cannot have is refused where it is read.
  std::string json = temp_path("target.json");
  CliRun written = run_mpheap("target" + kQemuTarget + " --ram" + kSnap2 + " -o " + json);
  ASSERT_EQ(written.status, 0);
  CliRun reread = run_mpheap("heap" + kSnap2 + " --target " + json, true);
  EXPECT_EQ(reread.status, 0) << reread.out;  // what `target -o` writes, mpheap reads
  std::string text = read_file(json);
  auto at = text.find("\"block_size\": 16");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 16, "\"block_size\": 12");
  std::ofstream(json) << text;
  CliRun bad = run_mpheap("heap" + kSnap2 + " --target " + json, true);
  std::filesystem::remove(json);
  EXPECT_EQ(bad.status, 1) << bad.out;
  EXPECT_TRUE(has(bad.out, "block size 12 bytes")) << bad.out;
}

TEST(NeverQuietlyWrong, RootMemoryOutsideTheDumpsIsNamed) {
  // A description whose .bss runs past the 16 KiB dumped (a dump cut short, or another build's
  // description): the words there cannot be read, so objects held only from there would count
  // as garbage. The answer says which memory was missing. (The scan once probed each missing
  // word: a .bss of 1.7 GB took seconds.)
  std::string json = temp_path("wide_bss.json");
  ASSERT_EQ(run_mpheap("target" + kQemuTarget + " --ram" + kSnap2 + " -o " + json).status, 0);
  CliRun whole = run_mpheap("heap" + kSnap2 + " --target " + json, true);
  EXPECT_EQ(whole.status, 0) << whole.out;
  EXPECT_FALSE(has(whole.out, "not in the dumps")) << whole.out;
  std::string text = read_file(json);
  auto bss = text.find("\"kind\": \"bss\"");
  ASSERT_NE(bss, std::string::npos) << text;
  auto end = text.find("\"end\": \"0x", bss);
  ASSERT_NE(end, std::string::npos);
  end += 8;  // after "end": "
  text.replace(end, text.find('"', end) - end, "0x8819937c");
  std::ofstream(json) << text;
  CliRun wide = run_mpheap("heap" + kSnap2 + " --target " + json, true);
  std::filesystem::remove(json);
  EXPECT_EQ(wide.status, 0) << wide.out;
  EXPECT_TRUE(has(wide.out,
                  "snapshot 0: 1746490236 bytes of the memory scanned for roots are not "
                  "in the dumps (0x20004000..0x8819937c)"))
      << wide.out;
}

TEST(NeverQuietlyWrong, ATargetWrittenFromAnImageAloneSaysWhatItLacks) {
  if (!std::filesystem::exists(kDebianMicrobitHex))
    GTEST_SKIP() << kDebianMicrobitHex << " is not installed";
  const std::string dump = data_path("microbit-debian/named/snap1_ram.bin") + "@0x20000000";
  std::string bare = temp_path("image-only.json"), full = temp_path("image-ram.json");
  CliRun w1 =
      run_mpheap(std::string("target --firmware ") + kDebianMicrobitHex + " -o " + bare, true);
  ASSERT_EQ(w1.status, 0) << w1.out;
  EXPECT_TRUE(has(w1.out, "has no heap layout")) << w1.out;
  CliRun r1 = run_mpheap("heap " + dump + " --target " + bare, true);
  EXPECT_EQ(r1.status, 1) << r1.out;
  EXPECT_TRUE(has(r1.out, "--firmware IMAGE --ram DUMP@ADDR")) << r1.out;
  CliRun w2 = run_mpheap(
      std::string("target --firmware ") + kDebianMicrobitHex + " --ram " + dump + " -o " + full,
      true);
  ASSERT_EQ(w2.status, 0) << w2.out;
  EXPECT_FALSE(has(w2.out, "has no heap layout")) << w2.out;
  CliRun r2 = run_mpheap("heap " + dump + " --target " + full);
  std::filesystem::remove(bare);
  std::filesystem::remove(full);
  EXPECT_EQ(r2.status, 0);
  EXPECT_TRUE(has(r2.out, "SPRITES")) << r2.out;
}

TEST(NeverQuietlyWrong, ARequestLargerThanTheHeapIsSaidToBe) {
  CliRun r = run_mpheap("heap" + kSnap2 + kQemuTarget + " --can-alloc 100000");
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(has(r.out, "can allocate 100000 bytes: no")) << r.out;
  EXPECT_TRUE(has(r.out, "the heap has 496 blocks = 7936 bytes")) << r.out;
  EXPECT_FALSE(has(r.out, "would leave")) << r.out;
}

TEST(NeverQuietlyWrong, OptionsThatChooseTheOutputExcludeEachOther) {
  CliRun r =
      run_mpheap("heap" + kSnap2 + kQemuTarget + " --can-alloc 100 --why 0x20000490 --json", true);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r.out, "excludes")) << r.out;
  CliRun unknown = run_mpheap("heap" + kSnap2 + kQemuTarget + " --no-such-option", true);
  EXPECT_EQ(unknown.status, 2);  // was CLI11's 109
  CliRun nothing = run_mpheap("report -o /dev/null", true);
  EXPECT_EQ(nothing.status, 2);
}

TEST(NeverQuietlyWrong, FilesThatCannotBeReadSayWhy) {
  CliRun dir =
      run_mpheap("heap " + kQemu.substr(0, kQemu.size() - 1) + "@0x20000000" + kQemuTarget, true);
  EXPECT_EQ(dir.status, 1);
  EXPECT_TRUE(has(dir.out, "is a directory; expected a RAM dump")) << dir.out;
  CliRun missing = run_mpheap("heap /no/such/dump.bin@0x20000000" + kQemuTarget, true);
  EXPECT_EQ(missing.status, 1);
  EXPECT_TRUE(has(missing.out, "/no/such/dump.bin: cannot open: No such file or directory"))
      << missing.out;
  // Exactly one prefix.
  CliRun none = run_mpheap("heap" + kSnap2, true);
  EXPECT_EQ(none.status, 2) << none.out;
  EXPECT_TRUE(has(none.out, "mpheap heap: a firmware description is needed")) << none.out;
  EXPECT_FALSE(has(none.out, "mpheap heap: mpheap")) << none.out;
}

TEST(NeverQuietlyWrong, AWrongAddressSaysWhichWouldFit) {
  CliRun r = run_mpheap("heap " + kQemu + "snap2_ram.bin@0x10000000" + kQemuTarget, true);
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(has(r.out, "no dump covers mp_state_ctx at 0x20000010")) << r.out;
  EXPECT_TRUE(has(r.out, "at 0x10000000..0x10004000")) << r.out;
  EXPECT_TRUE(has(r.out, "snap2_ram.bin@0x20000000 (the start of RAM) would cover it")) << r.out;
}

TEST(NeverQuietlyWrong, ADiffWithADumpOfAnotherFirmwareSaysSo) {
  CliRun r = run_mpheap("heap" + kSnap2 + kQemuTarget + " --diff-with " +
                            data_path("microbit-debian/named/snap1_ram.bin") + "@0x20000000",
                        true);
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(has(r.out, "cannot be compared with")) << r.out;
  EXPECT_TRUE(has(r.out, "another firmware")) << r.out;
}

TEST(NeverQuietlyWrong, OneNameForUntypedBlocksAndAHintForQstrNumbers) {
  CliRun r = run_mpheap("heap" + kSnap2 + kQemuMapNm, true);  // no --qstrs
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(has(r.out, "qstr#")) << r.out;
  EXPECT_TRUE(has(r.out, "pass --qstrs FILE")) << r.out;
  EXPECT_FALSE(has(r.out, "no type header")) << r.out;
  // Blocks nothing names are "unknown" in the JSON too, as in the census and the retainers.
  CliRun json = run_mpheap("heap " + kQemu + "ram_seq.bin@0x20000000" + kQemuTarget +
                           " --snapshot 60 --json");
  ASSERT_EQ(json.status, 0);
  const nlohmann::json j = nlohmann::json::parse(json.out);
  ASSERT_FALSE(j["objects"].empty());
  for (const auto& o : j["objects"]) EXPECT_NE(o["type"], "");
}

}  // namespace
}  // namespace mpheap::testing
