// `mpheap target` and `mpheap heap` as a user runs them: map/nm + RAM dump -> target.json ->
// the block map and the globals of a snapshot; sequences; clear errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_runner.h"
#include "trace/test_util.h"

namespace {

using mpheap::testing::data_path;
using mpheap::testing::read_file;

using Result = mpheap::testing::CliRun;

Result mpheap(const std::string& args, bool merge_stderr = false) {
  return mpheap::testing::run_mpheap(args, merge_stderr);
}

std::string microbit_map_args() {
  std::string d = data_path("qemu-microbit/");
  return "--map " + d + "firmware.map --nm " + d + "firmware.nm --qstrs " + d + "qstr_static.txt";
}

TEST(TargetCli, SummaryAndJsonFromMapNmAndRam) {
  std::string json = "/tmp/mpheap_cli_target_" + std::to_string(::getpid()) + ".json";
  Result r = mpheap("target " + microbit_map_args() + " --ram " +
                    data_path("qemu-microbit/snap1_ram.bin") + "@0x20000000 -o " + json);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("mp_state_ctx 0x20000010 (676 bytes)"), std::string::npos);
  EXPECT_NE(r.out.find("pool 0x20000410..0x20002310 (7936 bytes, 496 blocks)"), std::string::npos);
  EXPECT_NE(r.out.find("ROM qstrs    653"), std::string::npos);
  EXPECT_NE(r.out.find("last_pool    0x200008f0"), std::string::npos);
  auto j = nlohmann::json::parse(read_file(json));
  EXPECT_EQ(j["format"], "mpheap-target");
  EXPECT_EQ(j["block_size"], 16);
  EXPECT_EQ(j["mp_state_ctx"]["fields"]["mem.area"], 376);

  // The saved target decodes the other snapshot: block map as the firmware printed it.
  Result heap = mpheap("heap " + data_path("qemu-microbit/snap2_ram.bin") +
                       "@0x20000000 --target " + json + " --blockmap");
  std::remove(json.c_str());
  ASSERT_EQ(heap.status, 0) << heap.out;
  EXPECT_NE(
      heap.out.find("GC: total: 7936, used: 1568, free: 6368\n No. of 1-blocks: 34, 2-blocks: 7, "
                    "max blk sz: 12, max free sz: 281\n"),
      std::string::npos);
  EXPECT_NE(
      heap.out.find("00000000: h=SLhhhBDALh=h=LhT=Fh======hDBBBhLhB..h===hhhLh=hh=hhh=h===.hS..\n"),
      std::string::npos);
}

TEST(HeapCli, SummaryNamesTheGlobals) {
  Result r = mpheap("heap " + data_path("qemu-microbit/snap2_ram.bin") + "@0x20000000 " +
                    microbit_map_args());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("  GREETING = 'hello mpheap fixture'\n"), std::string::npos);
  EXPECT_NE(r.out.find("  CONFIG = <dict at 0x20000490>\n"), std::string::npos);
  EXPECT_NE(r.out.find("3 x Sprite"), std::string::npos);
}

TEST(HeapCli, CanAllocExplainsWithPathsAndAllocationSites) {
  // snap2 is the state at the end of the run; gc_log_backtrace.txt is the same run's trace.
  std::string base =
      "heap " + data_path("qemu-microbit/snap2_ram.bin") + "@0x20000000 " + microbit_map_args();
  Result fits = mpheap(base + " --can-alloc " + std::to_string(281 * 16));
  ASSERT_EQ(fits.status, 0);
  EXPECT_EQ(fits.out.rfind("can allocate 4496 bytes: yes\n", 0), 0u);
  Result no =
      mpheap(base + " --can-alloc 4600 --trace " + data_path("qemu-microbit/gc_log_backtrace.txt"));
  ASSERT_EQ(no.status, 0);
  EXPECT_EQ(no.out.rfind("can allocate 4600 bytes: no\n", 0), 0u);
  EXPECT_NE(no.out.find("largest free run 281 blocks now"), std::string::npos);
  EXPECT_NE(no.out.find("0x200010b0 str (1 blocks): a run of 282 blocks; held by "
                        "mp_state_ctx.vm.dict_main['KEEP'][2]"),
            std::string::npos);
  EXPECT_NE(no.out.find("allocated at ../../py/obj.c:42 mp_obj_malloc_helper"), std::string::npos);
  Result why = mpheap(base + " --why 0x20000438");  // inside GREETING
  ASSERT_EQ(why.status, 0);
  EXPECT_EQ(why.out.rfind("mp_state_ctx.vm.dict_main['GREETING']\n", 0), 0u);
}

TEST(HeapCli, DiffAndDot) {
  std::string base =
      "heap " + data_path("qemu-microbit/snap1_ram.bin") + "@0x20000000 " + microbit_map_args();
  Result diff =
      mpheap(base + " --diff-with " + data_path("qemu-microbit/snap2_ram.bin") + "@0x20000000");
  ASSERT_EQ(diff.status, 0) << diff.out;
  EXPECT_EQ(diff.out.rfind("used: 1424 -> 1568 bytes (+144)\n", 0), 0u);
  EXPECT_NE(diff.out.find("0x200004b0        16 B  list"),
            std::string::npos);  // KEEP, new in snap2
  // The same through --diff on a sequence: the first and the last of the 120 dumps.
  Result seq = mpheap("heap " + data_path("qemu-microbit/ram_seq.bin") + "@0x20000000 " +
                      microbit_map_args() + " --diff 0 last");
  ASSERT_EQ(seq.status, 0) << seq.out;
  EXPECT_EQ(seq.out.rfind("used: ", 0), 0u);
  Result two =
      mpheap(base + " --diff 0 " + data_path("qemu-microbit/snap2_ram.bin") + "@0x20000000");
  ASSERT_EQ(two.status, 0) << two.out;
  EXPECT_EQ(two.out, diff.out);
  std::string dot = "/tmp/mpheap_cli_" + std::to_string(::getpid()) + ".dot";
  Result r = mpheap(base + " --dot " + dot + " --blockmap");
  ASSERT_EQ(r.status, 0);
  std::string text = read_file(dot);
  std::remove(dot.c_str());
  EXPECT_EQ(text.rfind("digraph", 0), 0u);
  EXPECT_NE(text.find("hello mpheap fixture"), std::string::npos);
}

// microbit-debian/alloc: with only Debian's firmware image and the RAM dump, --can-alloc answers
// as the firmware did when it then tried bytearray(N) (snapN_try.txt), counting what no root
// (mp_state_ctx, the stack from SP in snapN_regs.txt) reaches as free.
TEST(HeapCli, CanAllocAnswersAsTheDebianFirmwareDid) {
  const std::string hex = mpheap::testing::kDebianMicrobitHex;
  if (std::FILE* f = std::fopen(hex.c_str(), "rb")) {
    std::fclose(f);
  } else {
    GTEST_SKIP() << "Debian's firmware-microbit-micropython is not installed";
  }
  for (int i = 0; i < 4; ++i) {
    std::string dir = data_path("microbit-debian/alloc/");
    std::string tried = read_file(dir + "snap" + std::to_string(i) + "_try.txt");
    std::string n = tried.substr(0, tried.find(' '));
    bool ok = tried.find(" ok") != std::string::npos;
    std::string regs = dir + "snap" + std::to_string(i) + "_regs.txt";
    Result r =
        mpheap("heap " + dir + "snap" + std::to_string(i) + "_ram.bin@0x20000000 --firmware " +
               hex + " --regs " + regs + " --can-alloc " + n);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out.substr(0, r.out.find('\n')),
              "can allocate " + n + " bytes: " + (ok ? "yes" : "no"))
        << "snap" << i;
    // The stack range comes from SP in the registers and mp_state_ctx.thread.stack_top in the
    // dump (0x20004000, the top of the micro:bit's 16 KiB RAM).
    Result how =
        mpheap("heap " + dir + "snap" + std::to_string(i) + "_ram.bin@0x20000000 --firmware " +
                   hex + " --regs " + regs + " --can-alloc " + n,
               true);
    std::string sp = read_file(regs);
    sp = sp.substr(sp.find("0x", sp.find("\nsp ")), 10);
    EXPECT_NE(how.out.find("scanning the stack " + sp + "..0x20004000: SP from " + regs +
                           ", top mp_state_ctx.thread.stack_top = 0x20004000 in the dump"),
              std::string::npos)
        << how.out;
  }
  // Registers of another run: SP above the stack's top is refused, not scanned.
  std::string other = "/tmp/mpheap_regs_" + std::to_string(::getpid()) + ".txt";
  std::FILE* f = std::fopen(other.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("r0 0x0 0\nsp 0x20008000 0x20008000\n", f);
  std::fclose(f);
  Result bad =
      mpheap("heap " + data_path("microbit-debian/alloc/snap2_ram.bin") +
                 "@0x20000000 --firmware " + hex + " --regs " + other + " --can-alloc 4000",
             true);
  std::remove(other.c_str());
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("the stack pointer 0x20008000 is not below the stack's top 0x20004000"),
            std::string::npos)
      << bad.out;
}

TEST(HeapCli, SequenceFileDumpByDump) {
  Result r = mpheap("heap " + data_path("qemu-microbit/ram_seq.bin") + "@0x20000000 " +
                    microbit_map_args() + " --snapshot 119 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["snapshot"], 119);
  Result past = mpheap("heap " + data_path("qemu-microbit/ram_seq.bin") + "@0x20000000 " +
                           microbit_map_args() + " --snapshot 120",
                       true);
  EXPECT_EQ(past.status, 1);
  EXPECT_NE(past.out.find(
                "--snapshot 120 is past the last dump: the file holds 120 dumps of 16384 bytes"),
            std::string::npos);
}

TEST(TargetCli, ClearErrors) {
  Result none = mpheap("target", true);
  EXPECT_EQ(none.status, 2);  // a usage error
  EXPECT_NE(none.out.find("a firmware description is needed"), std::string::npos);
  Result wrong = mpheap("target " + microbit_map_args() + " --ram " +
                            data_path("qemu-microbit/snap1_ram.bin") + "@0x30000000",
                        true);
  EXPECT_EQ(wrong.status, 1);
  EXPECT_NE(wrong.out.find("no dump covers mp_state_ctx at 0x20000010"), std::string::npos);
  Result notmap = mpheap("target --map " + data_path("qemu-microbit/rom_qstrs.txt"), true);
  EXPECT_EQ(notmap.status, 1);
  EXPECT_NE(notmap.out.find("expected a GNU ld map file"), std::string::npos);
  Result at = mpheap("heap nofile.bin " + microbit_map_args(), true);
  EXPECT_EQ(at.status, 1);
  EXPECT_NE(at.out.find("expected FILE@ADDRESS"), std::string::npos);
}

// A snapshot sequence as `mpheap capture snapshots` writes it, whose header keeps the `g` reply:
// with a target that names its machine, `mpheap heap` scans the stack from that SP to
// mp_state_ctx.thread.stack_top (0x20003fe4 in qemu-microbit's dump) without --regs.
TEST(HeapCli, SequenceHeaderRegistersGiveTheStack) {
  const std::string tag = std::to_string(::getpid());
  const std::string json = "/tmp/mpheap_cli_regs_" + tag + ".json";
  const std::string seq = "/tmp/mpheap_cli_regs_" + tag + ".seq";
  Result made = mpheap("target " + microbit_map_args() + " --ram " +
                       data_path("qemu-microbit/snap2_ram.bin") + "@0x20000000 -o " + json);
  ASSERT_EQ(made.status, 0) << made.out;
  auto j = nlohmann::json::parse(read_file(json));
  j["machine"] = "ARM";
  {
    std::FILE* f = std::fopen(json.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(j.dump().c_str(), f);
    std::fclose(f);
  }
  std::string regs;  // r0..r12 = 0, sp = 0x20003e18, lr, pc
  for (int i = 0; i < 13; ++i) regs += "00000000";
  regs +=
      "183e0020"
      "59990200"
      "5a990200";
  std::string ram = read_file(data_path("qemu-microbit/snap2_ram.bin"));
  {
    std::FILE* f = std::fopen(seq.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::string header =
        "MPHEAP-SNAPSHOT 1 index=0 time_ms=0.000 start=0x20000000 end=0x20004000 trigger=start "
        "regs=" +
        regs + "\n";
    std::fwrite(header.data(), 1, header.size(), f);
    std::fwrite(ram.data(), 1, ram.size(), f);
    std::fclose(f);
  }
  Result with = mpheap("heap " + seq + " --target " + json, true);
  EXPECT_EQ(with.status, 0) << with.out;
  EXPECT_NE(with.out.find("scanning the stack 0x20003e18..0x20003fe4: SP from snapshot 0's "
                          "header, top mp_state_ctx.thread.stack_top = 0x20003fe4 in the dump"),
            std::string::npos)
      << with.out;
  EXPECT_EQ(with.out.find("stack not scanned"), std::string::npos) << with.out;
  // A map target does not say which machine it is: the registers are not guessed at.
  Result without = mpheap("heap " + seq + " " + microbit_map_args(), true);
  EXPECT_EQ(without.status, 0) << without.out;
  EXPECT_NE(without.out.find("the registers in the snapshots' headers are not used: the register "
                             "order of a `g` reply is not known for machine 'unknown'"),
            std::string::npos)
      << without.out;
  // The report takes the sequence file as it is (no @ADDR) and names the page after it.
  const std::string html = "/tmp/mpheap_cli_regs_" + tag + ".html";
  Result page = mpheap("report --heap " + seq + " --target " + json + " -o " + html, true);
  EXPECT_EQ(page.status, 0) << page.out;
  EXPECT_NE(read_file(html).find("<title>mpheap report: mpheap_cli_regs_" + tag + ".seq</title>"),
            std::string::npos);
  std::remove(html.c_str());
  std::remove(json.c_str());
  std::remove(seq.c_str());
}

}  // namespace
