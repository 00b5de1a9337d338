// `mpheap capture repl` end to end on real firmware in QEMU, with no probe and no gdb: Debian's
// MicroPython 1.9.2 for the micro:bit (no sys.stdout, no uctypes: the reader writes to
// microbit.uart) and the unmodified MicroPython 1.28 build (raw-paste mode). The test runs a
// workload over the raw REPL (mpheap's RawRepl), then takes a snapshot over the same UART with
// micropython.mem_info(1) run in the same command right before the read, and checks:
// - the block map mpheap heap draws from the snapshot equals the firmware's own, line by line
//   (the reader allocates nothing while it reads, so there is no exception to make);
// - the workload's globals are named in `mpheap heap --why` as from a probe snapshot.
// Without qemu or the firmware the test skips, unless MPHEAP_REQUIRE_E2E=1 (CI), where it fails.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "capture/process_util.h"
#include "cli/cli_runner.h"
#include "heap/mem_info.h"
#include "mpheap/capture/link.h"
#include "mpheap/capture/raw_repl.h"
#include "mpheap/io/snapshot_sequence.h"
#include "trace/test_util.h"

namespace mpheap::capture {
namespace {

using mpheap::testing::ChildProcess;
using mpheap::testing::data_path;
using mpheap::testing::TempDir;

bool e2e_required() {
  const char* v = std::getenv("MPHEAP_REQUIRE_E2E");
  return v != nullptr && std::string(v) == "1";
}

struct Board {
  std::string firmware;                // the file QEMU loads
  std::vector<std::string> qemu_args;  // before the UART's
  std::string target;                  // mpheap heap's options for this firmware
  std::string ram;                     // --ram
  std::string workload;
  std::size_t blocks = 0;  // in the heap's block map
};

// Blocks in a printed block map ("(N lines all free)" stands for N x 64).
std::size_t map_blocks(const std::vector<std::string>& lines) {
  std::size_t n = 0;
  for (const std::string& l : lines) {
    if (auto open = l.find('(');
        open != std::string::npos && l.find("lines all free") != std::string::npos)
      n += static_cast<std::size_t>(std::stoi(l.substr(open + 1))) * 64;
    else if (auto colon = l.find(": "); colon != std::string::npos)
      n += l.size() - colon - 2;
  }
  return n;
}

// Runs the board's workload, snapshots it over the REPL and checks the snapshot.
void check_board(const Board& b) {
  const std::string qemu = mpheap::testing::which("qemu-system-arm");
  if (qemu.empty() || !std::filesystem::exists(b.firmware)) {
    std::string why =
        qemu.empty() ? "qemu-system-arm is not installed" : b.firmware + " is not there";
    if (e2e_required()) FAIL() << why << " and MPHEAP_REQUIRE_E2E=1";
    GTEST_SKIP() << why;
  }
  TempDir dir("repl");
  // The UART on TCP: QEMU writes it a byte at a time, and a unix socket's buffer holds few such
  // writes (the kernel counts each as a whole buffer), so a busy host loses output far more
  // often than over TCP, which merges them.
  const std::string uart = fmt::format("tcp:127.0.0.1:{}", mpheap::testing::free_port());
  std::vector<std::string> args = b.qemu_args;
  args.insert(args.begin(), qemu);
  for (const char* a : {"-display", "none", "-monitor", "none", "-serial", "chardev:uart"})
    args.emplace_back(a);
  args.push_back("-chardev");
  args.push_back(fmt::format("socket,id=uart,host=127.0.0.1,port={},server=on,wait=off",
                             uart.substr(uart.rfind(':') + 1)));
  ChildProcess vm(args, dir.file("qemu.txt"));
  ASSERT_TRUE(vm.started());

  // The workload, over the raw REPL, then the addresses of two globals. QEMU's UART loses
  // output when the host is busy: a command whose answer did not come whole is run again (both
  // are harmless to repeat).
  std::uint64_t sprites = 0, config = 0;
  {
    auto link = Link::open(uart, 115200, 10000);
    ASSERT_TRUE(link) << link.error().message();
    RawRepl repl(**link);
    auto entered = repl.enter(20000);
    ASSERT_TRUE(entered) << entered.error().message();
    auto run = [&](const std::string& code) {
      std::string why;
      for (int attempt = 0; attempt < 3; ++attempt) {
        auto r = repl.exec(code, 20000);
        if (r && r->errors.empty()) return r->output;
        why = r ? r->errors : r.error().message();
        (void)repl.recover();
      }
      ADD_FAILURE() << why;
      return std::string();
    };
    run(b.workload);
    std::smatch m;
    std::string ids;
    for (int attempt = 0; attempt < 3 && m.empty(); ++attempt) {
      ids = run("print('=ids', id(SPRITES), id(CONFIG))\n");
      std::regex_search(ids, m, std::regex("=ids (\\d+) (\\d+)\r?\n"));
    }
    ASSERT_FALSE(m.empty()) << ids;
    sprites = std::stoull(m[1]);
    config = std::stoull(m[2]);
    repl.leave();
  }

  // The snapshot, with mem_info(1) in the same command; taken again when the printout did not
  // come whole (the snapshot itself is checked line by line and never comes damaged).
  const std::string seq = dir.file("ram.seq");
  mpheap::testing::CliRun cap;
  mpheap::testing::MemInfo want;
  for (int attempt = 0; attempt < 3; ++attempt) {
    // stdout: what --before printed; stderr (progress, errors) to a file.
    cap = mpheap::testing::run_mpheap(
        fmt::format("capture repl --connect {} --ram {} --before 'import "
                    "micropython;micropython.mem_info(1)' -o {} 2>{}; exit $?",
                    uart, b.ram, seq, dir.file("capture.txt")));
    ASSERT_EQ(cap.status, 0) << cap.out << mpheap::testing::read_file(dir.file("capture.txt"));
    want = mpheap::testing::parse_mem_info(cap.out);
    if (map_blocks(want.map_lines) == b.blocks && want.gc_lines.size() >= 2) break;
  }
  ASSERT_EQ(map_blocks(want.map_lines), b.blocks) << cap.out;
  auto idx = io::index_snapshot_sequence_file(seq);
  ASSERT_TRUE(idx) << idx.error().message();
  ASSERT_EQ(idx->size(), 1u);
  const io::SnapshotHeader& h = idx->front().header;
  EXPECT_EQ(h.trigger, "repl");
  EXPECT_EQ(h.reader_objects.size(), 4u);  // the reader's list, generator, function, buffer
  for (std::uint64_t o : h.reader_objects) {
    EXPECT_GE(o, h.start);
    EXPECT_LT(o, h.end);
  }

  // The firmware's block map, printed in the read's own command, and mpheap's from the read.
  auto heap = mpheap::testing::run_mpheap(fmt::format("heap {} {} --blockmap", seq, b.target));
  ASSERT_EQ(heap.status, 0) << heap.out;
  auto got = mpheap::testing::parse_mem_info(heap.out);
  EXPECT_EQ(got.map_lines, want.map_lines) << heap.out << "\nprinted:\n" << cap.out;
  EXPECT_EQ(got.gc_lines, want.gc_lines);

  // The globals are named as from a probe snapshot.
  for (auto [name, address] : {std::pair{"SPRITES", sprites}, std::pair{"CONFIG", config}}) {
    auto why =
        mpheap::testing::run_mpheap(fmt::format("heap {} {} --why {:#x}", seq, b.target, address));
    EXPECT_EQ(why.status, 0) << why.out;
    EXPECT_NE(why.out.find(std::string("['") + name + "']"), std::string::npos) << name << ":\n"
                                                                                << why.out;
  }
}

constexpr const char* kSmallWorkload = R"PY(import gc
CONFIG = {'alpha': 1, 'beta': [2, 3], 'gamma': 'x' * 20}
class Sprite:
    def __init__(self, name, x):
        self.name = name
        self.x = x
SPRITES = [Sprite('ship', 1), Sprite('rock', 2), Sprite('star', 3)]
JUNK = [bytearray(i * 5 + 1) for i in range(8)]
JUNK = JUNK[4:]
gc.collect()
)PY";

TEST(CaptureRepl, DebianMicrobitMicroPython192) {
  const std::string hex = mpheap::testing::kDebianMicrobitHex;
  check_board({hex,
               {"-M", "microbit", "-device", "loader,file=" + hex},
               "--firmware " + hex,
               "0x20000000:0x20004000",
               kSmallWorkload,
               628});
}

TEST(CaptureRepl, StockMicroPython128) {
  const std::string elf = data_path("stock-v1.28/qemu-microbit/firmware.elf");
  check_board({elf,
               {"-M", "microbit", "-global", "nrf51-soc.flash-size=1048576", "-global",
                "nrf51-soc.sram-size=262144", "-kernel", elf, "-semihosting"},
               "--elf " + elf,
               "0x20000000:0x20040000",
               kSmallWorkload,
               8752});
}

}  // namespace
}  // namespace mpheap::capture
