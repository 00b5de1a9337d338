// `mpheap heap SEQ --elf firmware.elf --why ADDR` names the running Python function whose frame
// holds an object: the stock 1.28 micro:bit ELF in QEMU, stopped by `mpheap capture snapshots
// --on mp_make_closure_from_proto_fun` while the fixture's workload makes the closure in
// make_counter (its `count` list, [10], is in make_counter's frame then). The function and the
// lines are the workload's source: the closure is made at `def counter():`, make_counter called
// at `COUNTER = make_counter(10)`. Without QEMU the test skips, unless MPHEAP_REQUIRE_E2E=1 (CI),
// where it fails.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "capture/process_util.h"
#include "capture/qemu_boot.h"
#include "cli/cli_runner.h"
#include "mpheap/capture/link.h"
#include "mpheap/capture/raw_repl.h"
#include "mpheap/heap/object_kind.h"
#include "mpheap/io/registers.h"
#include "mpheap/io/snapshot_sequence.h"
#include "mpheap/session/heap_session.h"
#include "trace/test_util.h"

namespace mpheap::capture {
namespace {

using namespace std::chrono_literals;
using mpheap::testing::ChildProcess;
using mpheap::testing::data_path;
using mpheap::testing::TempDir;

bool e2e_required() {
  const char* v = std::getenv("MPHEAP_REQUIRE_E2E");
  return v != nullptr && std::string(v) == "1";
}

// The 1-based number of the first line of `text` that starts with `prefix` (0 when none).
int line_of(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.starts_with(prefix)) return n;
  return 0;
}

TEST(WhyPythonFrameQemu, StockMicrobitNamesTheFunctionWhoseFrameHoldsTheObject) {
  const std::string qemu = mpheap::testing::which("qemu-system-arm");
  if (qemu.empty()) {
    if (e2e_required()) FAIL() << "qemu-system-arm is not installed and MPHEAP_REQUIRE_E2E=1";
    GTEST_SKIP() << "qemu-system-arm is not installed";
  }
  const std::string elf = data_path("stock-v1.28/qemu-microbit/firmware.elf");
  const std::string workload = mpheap::testing::read_file(data_path("stock-v1.28/workload.py"));
  const int closure_line = line_of(workload, "    def counter():");
  const int call_line = line_of(workload, "COUNTER = make_counter(10)");
  ASSERT_GT(closure_line, 0);
  ASSERT_GT(call_line, 0);

  TempDir dir("why-qemu");
  const int uart_port = mpheap::testing::free_port();
  int gdb_port = mpheap::testing::free_port();
  while (gdb_port == uart_port) gdb_port = mpheap::testing::free_port();
  std::unique_ptr<ChildProcess> vm;
  ASSERT_NO_FATAL_FAILURE(
      mpheap::testing::boot(vm, qemu, mpheap::testing::stock_microbit(elf), uart_port, dir,
                            {"-gdb", fmt::format("tcp:127.0.0.1:{}", gdb_port), "-S"}));
  // From reset: the breakpoint is set before the board runs, so the first closure the workload
  // makes (nothing at boot makes one) stops it. All of RAM, the stack at its top included.
  const std::string seq = dir.file("closure.seq");
  ChildProcess capture(
      {MPHEAP_CLI, "capture", "snapshots", "--remote", fmt::format("127.0.0.1:{}", gdb_port),
       "--ram", "0x20000000+0x40000", "--elf", elf, "--on", "mp_make_closure_from_proto_fun",
       "--count", "1", "-o", seq},
      dir.file("capture.txt"));
  {
    auto link = Link::open(fmt::format("tcp:127.0.0.1:{}", uart_port), 115200, 10000);
    ASSERT_TRUE(link) << link.error().message();
    RawRepl repl(**link);
    auto entered = repl.enter(60000);
    ASSERT_TRUE(entered) << entered.error().message() << "\n"
                         << mpheap::testing::read_file(dir.file("capture.txt"));
    bool done = false;
    for (int attempt = 0; attempt < 3 && !done; ++attempt) {
      auto r = repl.exec(workload, 120000);
      done = r && r->errors.empty() && r->output.find("=== workload done ===") != std::string::npos;
      if (!done) (void)repl.recover();
    }
    repl.leave();
    EXPECT_TRUE(done);
  }
  ASSERT_EQ(capture.wait(60s), 0) << mpheap::testing::read_file(dir.file("capture.txt"));

  // The `count` list: the one list whose repr is [10], found by reading the snapshot.
  session::HeapRequest request;
  request.target.elf = elf;
  request.dumps = {seq};
  auto opened = session::HeapSession::open(request);
  ASSERT_TRUE(opened) << opened.error().message();
  auto analyzed = opened->analyze(0, 0);
  ASSERT_TRUE(analyzed) << analyzed.error().message();
  const session::AnalyzedSnapshot& s = **analyzed;
  const target::Target& t = opened->target();
  const io::WordReader word{s.memory, t.word_size, t.little_endian};
  std::vector<std::uint64_t> counts;
  for (const heap::HeapObject& o : s.snapshot.objects) {
    if (o.kind != heap::ObjectKind::list) continue;
    auto len = word.at(o.address + t.objects.list_len);
    auto items = word.at(o.address + t.objects.list_items);
    auto first = items ? word.at(*items) : std::nullopt;
    if (len == 1u && first && s.reader->repr(*first) == "10") counts.push_back(o.address);
  }
  ASSERT_EQ(counts.size(), 1u);

  auto why = mpheap::testing::run_mpheap(
      fmt::format("heap {} --elf {} --why {:#x}", seq, elf, counts.front()), true);
  EXPECT_EQ(why.status, 0) << why.out;
  EXPECT_NE(why.out.find(fmt::format("{:#x}: held by a local or temporary of `make_counter` "
                                     "(<stdin>:{})",
                                     counts.front(), closure_line)),
            std::string::npos)
      << why.out;
  EXPECT_NE(why.out.find(fmt::format("Python frames on the stack: make_counter (<stdin>:{}), "
                                     "<module> (<stdin>:{})",
                                     closure_line, call_line)),
            std::string::npos)
      << why.out;
  // The path starts at that root too.
  EXPECT_NE(why.out.find(fmt::format("a local or temporary of `make_counter` (<stdin>:{}) -> ",
                                     closure_line)),
            std::string::npos)
      << why.out;

  // Registers given without a pc: one note, the roots keep their offsets, no error.
  const std::string regs = dir.file("regs.txt");
  std::string sp_only;
  {
    const io::SnapshotDumps* g = opened->file(0).sequence();
    ASSERT_NE(g, nullptr);
    auto parsed = io::registers_from_g_reply(g->entries[0].header.registers, "ARM", 4, true);
    ASSERT_TRUE(parsed) << parsed.error().message();
    for (const io::Register& r : *parsed)
      if (r.name == "sp") sp_only = fmt::format("sp 0x{:x} {}\n", r.value, r.value);
  }
  ASSERT_FALSE(sp_only.empty());
  std::ofstream(regs) << sp_only;
  auto no_pc = mpheap::testing::run_mpheap(
      fmt::format("heap {} --elf {} --regs {} --why {:#x}", seq, elf, regs, counts.front()), true);
  EXPECT_NE(no_pc.out.find("the stack roots are not named after the Python functions whose "
                           "frames hold them: no pc and sp among the registers"),
            std::string::npos)
      << no_pc.out;
  EXPECT_EQ(no_pc.out.find("held by"), std::string::npos) << no_pc.out;
}

}  // namespace
}  // namespace mpheap::capture
