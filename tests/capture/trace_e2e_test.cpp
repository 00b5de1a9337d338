// The trace path end to end on a program of the project's own (programs/hooked_heap.c, whose
// hook calls have known counts): compiled with -g, run under gdbserver on a free loopback port,
// captured by `mpheap capture trace` and by plain gdb running `--print-script`'s command file,
// in both log styles; `mpheap trace` on each log must report exactly the known counts, live
// blocks and call sites. Also: the hook's first statement is where gdb itself would stop, and
// bad input (no hook, no gdb, no server) gets one message and leaves no log behind.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "capture/process_util.h"
#include "cli/cli_runner.h"
#include "mpheap/capture/gdb_script.h"
#include "trace/test_util.h"

namespace mpheap::capture {
namespace {

using namespace std::chrono_literals;
using mpheap::testing::ChildProcess;
using mpheap::testing::TempDir;

const std::string kProgram = std::string(MPHEAP_CAPTURE_PROGRAMS) + "/hooked_heap.c";

bool e2e_required() {
  const char* v = std::getenv("MPHEAP_REQUIRE_E2E");
  return v != nullptr && std::string(v) == "1";
}

// Compiles a program of programs/ into `out`; false (with the reason in `why`) when no gcc.
bool compile(const std::string& source, const std::string& out, const std::string& flags = "") {
  return mpheap::testing::run_shell(
             fmt::format("gcc -g -O0 {} -o '{}' '{}' 2>/dev/null", flags, out, source)) == 0;
}

class CaptureTrace : public ::testing::Test {
 protected:
  void SetUp() override {
    gdbserver_ = mpheap::testing::which("gdbserver");
    gdb_ = mpheap::testing::which("gdb-multiarch");
    if (gdb_.empty()) gdb_ = mpheap::testing::which("gdb");
    if (gdbserver_.empty() || gdb_.empty()) {
      if (e2e_required()) FAIL() << "gdbserver or gdb is not installed and MPHEAP_REQUIRE_E2E=1";
      GTEST_SKIP() << "gdbserver or gdb is not installed";
    }
    ASSERT_TRUE(compile(kProgram, dir_.file("hooked"))) << "gcc failed";
  }

  // gdbserver on a free port running the program; the port.
  int serve(std::unique_ptr<ChildProcess>& server, const std::string& program,
            std::vector<std::string> args = {}) {
    const int port = mpheap::testing::free_port();
    std::vector<std::string> argv = {gdbserver_, fmt::format("127.0.0.1:{}", port), program};
    for (std::string& a : args) argv.push_back(a);
    server = std::make_unique<ChildProcess>(argv, dir_.file("gdbserver.txt"));
    EXPECT_TRUE(mpheap::testing::wait_for_port(port, 5s));
    // wait_for_port's probe connection made gdbserver reopen its port; give it a moment.
    std::this_thread::sleep_for(100ms);
    return port;
  }

  // The program built at a fixed address (-no-pie), so that its allocation table's address
  // (the `table` symbol, from nm) is where it runs.
  void build_fixed_address(const std::string& elf, std::uint64_t& table) {
    ASSERT_TRUE(compile(kProgram, elf, "-no-pie"));
    std::string nm = dir_.file("nm.txt");
    mpheap::testing::run_shell(fmt::format("nm '{}' > '{}'", elf, nm));
    std::smatch m;
    std::string symbols = mpheap::testing::read_file(nm);
    ASSERT_TRUE(std::regex_search(symbols, m, std::regex("([0-9a-f]+) b table")));
    table = std::stoull(m[1].str(), nullptr, 16);
  }

  // The fixed-address program under gdbserver, captured by `mpheap capture snapshots --on
  // gc_log_change --elf ELF` into `seq` (`elf` empty: the program's own ELF).
  void snapshots_on_hook(std::unique_ptr<ChildProcess>& server, const std::string& seq,
                         mpheap::testing::CliRun* run, std::string elf = "") {
    const std::string program = dir_.file("hooked_nopie");
    std::uint64_t table = 0;
    ASSERT_NO_FATAL_FAILURE(build_fixed_address(program, table));
    const int port = serve(server, program);
    *run = mpheap::testing::run_mpheap(
        fmt::format("capture snapshots --remote 127.0.0.1:{} --ram {:#x}+64 --on gc_log_change "
                    "--elf {} --breakpoint-kind 1 -o {}",
                    port, table, elf.empty() ? program : elf, seq),
        true);
  }

  TempDir dir_{"trace"};
  std::string gdbserver_, gdb_;
};

// The counts programs/hooked_heap.c promises, read back through `mpheap trace`.
void expect_known_counts(const std::string& log) {
  auto summary = mpheap::testing::run_mpheap(fmt::format("trace {} -q --summary-json -", log));
  ASSERT_EQ(summary.status, 0) << summary.out;
  auto j = nlohmann::json::parse(summary.out);
  EXPECT_EQ(j["events"], 20);
  EXPECT_EQ(j["duplicates"], 0);
  EXPECT_EQ(j["kinds"]["alloc"], 12);
  EXPECT_EQ(j["kinds"]["free"], 2);
  EXPECT_EQ(j["kinds"]["sweep"], 5);
  EXPECT_EQ(j["kinds"]["realloc"], 1);
  EXPECT_EQ(j["classified_by_caller"], 20);
  EXPECT_EQ(j["unlogged"], 0);
  EXPECT_EQ(j["unmatched_frees"], 0);
  EXPECT_EQ(j["collections"], 1);
  EXPECT_EQ(j["live_allocations_end"], 5);
  EXPECT_EQ(j["live_blocks_end"], 15);
  EXPECT_EQ(j["peak_live_blocks"], 20);
  EXPECT_EQ(j["incomplete_last_event"], false);
  EXPECT_NE(j["end_reason"].get<std::string>().find("program_done"), std::string::npos)
      << j["end_reason"];
  // Live blocks by call site: build_a 4, helper_b 6 (build_b's helper), grow_b 5.
  auto tree = mpheap::testing::run_mpheap(fmt::format("trace {} --json", log));
  ASSERT_EQ(tree.status, 0) << tree.out;
  auto t = nlohmann::json::parse(tree.out);
  EXPECT_EQ(t["total_blocks"], 15);
  std::map<std::string, int> by_function;
  std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& nodes) {
    for (const auto& n : nodes) {
      by_function[n["function"].get<std::string>()] += n["blocks"].get<int>();
      walk(n["children"]);
    }
  };
  walk(t["tree"]);
  EXPECT_EQ(by_function["build_a"], 4);
  EXPECT_EQ(by_function["helper_b"], 6);
  EXPECT_EQ(by_function["grow_b"], 5);
  EXPECT_EQ(by_function["make_garbage"], 0);  // all swept
  EXPECT_EQ(by_function["drop_a"], 0);
}

TEST_F(CaptureTrace, FirstStatementIsWhereGdbStops) {
  auto hook = find_hook(dir_.file("hooked"));
  ASSERT_TRUE(hook) << hook.error().message();
  EXPECT_EQ(hook->line, 25);  // `gc_log_sink = start_block;`, after the prologue
  EXPECT_NE(hook->address, hook->function_address);
  EXPECT_TRUE(hook->default_until.empty());
  // gdb's own prologue analysis for `break gc_log_change` picks the same address.
  const std::string out = dir_.file("gdb_break.txt");
  mpheap::testing::run_shell(
      fmt::format("'{}' -nx -batch -ex 'break gc_log_change' '{}' > '{}' 2>&1", gdb_,
                  dir_.file("hooked"), out));
  std::string text = mpheap::testing::read_file(out);
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(text, m, std::regex("Breakpoint 1 at (0x[0-9a-f]+): file .*, line (\\d+)")))
      << text;
  EXPECT_EQ(std::stoull(m[1].str(), nullptr, 16), hook->address);
  EXPECT_EQ(std::stoi(m[2].str()), hook->line);
  // The same with clang (which marks prologue_end in the line table), when installed.
  if (!mpheap::testing::which("clang").empty()) {
    ASSERT_EQ(mpheap::testing::run_shell(fmt::format("clang -g -O0 -o '{}' '{}' 2>/dev/null",
                                                     dir_.file("hooked_clang"), kProgram)),
              0);
    auto c = find_hook(dir_.file("hooked_clang"));
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->line, 25);
  }
}

TEST_F(CaptureTrace, PrintScriptStyles) {
  const std::string elf = dir_.file("hooked");
  auto bt = mpheap::testing::run_mpheap(
      fmt::format("capture trace --elf {} --remote localhost:1234 --print-script -o gc.txt", elf));
  ASSERT_EQ(bt.status, 0) << bt.out;
  EXPECT_NE(bt.out.find("target remote localhost:1234"), std::string::npos);
  EXPECT_NE(bt.out.find("break *((char *) &gc_log_change + "), std::string::npos) << bt.out;
  EXPECT_NE(bt.out.find("\nbacktrace\np/x start_block\np/x length\n"), std::string::npos);
  EXPECT_EQ(bt.out.find("up 1"), std::string::npos);
  auto pup = mpheap::testing::run_mpheap(fmt::format(
      "capture trace --elf {} --remote :3333 --style pup --print-script --max-events 10 --ram "
      "0x20000000:0x20004000 --until main.c:55",
      elf));
  ASSERT_EQ(pup.status, 0) << pup.out;
  EXPECT_NE(pup.out.find("p/x start_block\np/x length\nup 1\nup 1\nup 1\nup 1\n"),
            std::string::npos)
      << pup.out;
  EXPECT_NE(pup.out.find("append binary memory "), std::string::npos);
  EXPECT_NE(pup.out.find(" 0x20000000 0x20004000\n"), std::string::npos);
  EXPECT_NE(pup.out.find("if $mpheap_events < 10\ncontinue\nend"), std::string::npos);
  EXPECT_NE(pup.out.find("break main.c:55"), std::string::npos);
}

// --print-script's command file run by plain gdb, both styles.
TEST_F(CaptureTrace, PrintedScriptRunByPlainGdbGivesKnownCounts) {
  for (const char* style : {"backtrace", "pup"}) {
    SCOPED_TRACE(style);
    std::unique_ptr<ChildProcess> server;
    const int port = serve(server, dir_.file("hooked"));
    const std::string log = dir_.file(fmt::format("plain_{}.txt", style));
    const std::string script = dir_.file(fmt::format("plain_{}.gdb", style));
    auto printed = mpheap::testing::run_mpheap(fmt::format(
        "capture trace --elf {} --remote 127.0.0.1:{} --style {} --until program_done -o {} "
        "--print-script",
        dir_.file("hooked"), port, style, log));
    ASSERT_EQ(printed.status, 0) << printed.out;
    std::ofstream(script) << printed.out;
    ChildProcess gdb({gdb_, "-nx", "-batch", "-x", script}, dir_.file("gdb_out.txt"));
    EXPECT_EQ(gdb.wait(60s), 0) << mpheap::testing::read_file(dir_.file("gdb_out.txt"));
    EXPECT_EQ(server->wait(10s), 0) << "gdbserver did not end after the detach";
    expect_known_counts(log);
  }
}

// `mpheap capture trace` itself, both styles.
TEST_F(CaptureTrace, CaptureTraceGivesKnownCounts) {
  for (const char* style : {"backtrace", "pup"}) {
    SCOPED_TRACE(style);
    std::unique_ptr<ChildProcess> server;
    const int port = serve(server, dir_.file("hooked"));
    const std::string log = dir_.file(fmt::format("capture_{}.txt", style));
    auto run = mpheap::testing::run_mpheap(
        fmt::format("capture trace --elf {} --remote 127.0.0.1:{} --style {} --until "
                    "program_done -o {}",
                    dir_.file("hooked"), port, style, log),
        true);
    ASSERT_EQ(run.status, 0) << run.out;
    EXPECT_NE(run.out.find("20 events logged"), std::string::npos) << run.out;
    EXPECT_EQ(server->wait(10s), 0);
    expect_known_counts(log);
  }
}

// --max-events and --ram: a fixed-address build so that the heap table's address is known.
TEST_F(CaptureTrace, MaxEventsWithRamDumps) {
  const std::string elf = dir_.file("hooked_nopie");
  std::uint64_t table = 0;
  ASSERT_NO_FATAL_FAILURE(build_fixed_address(elf, table));
  std::unique_ptr<ChildProcess> server;
  const int port = serve(server, elf);
  const std::string log = dir_.file("max.txt");
  auto run = mpheap::testing::run_mpheap(
      fmt::format("capture trace --elf {} --remote 127.0.0.1:{} --no-until --max-events 7 --ram "
                  "{:#x}+64 -o {}",
                  elf, port, table, log),
      true);
  ASSERT_EQ(run.status, 0) << run.out;
  auto summary = mpheap::testing::run_mpheap(fmt::format("trace {} -q --summary-json -", log));
  ASSERT_EQ(summary.status, 0) << summary.out;
  auto j = nlohmann::json::parse(summary.out);
  EXPECT_EQ(j["events"], 7);
  EXPECT_EQ(j["kinds"]["alloc"], 7);
  // One 64-byte dump of the allocation table per event; the 7th shows blocks 0..16 allocated
  // (build_a 4 x 2, build_b 3 x 3) and the table is written before the hook is called.
  std::string ram = mpheap::testing::read_file(log + ".ram");
  ASSERT_EQ(ram.size(), 7u * 64u);
  EXPECT_EQ(ram[6 * 64 + 14], 1);  // head of build_b's third allocation
  EXPECT_EQ(ram[6 * 64 + 16], 2);  // its tail
  EXPECT_EQ(ram[6 * 64 + 17], 0);  // free
  server->kill();
}

// `mpheap capture snapshots --on SYMBOL --elf`: a snapshot at every hook call; the breakpoint is
// stepped over each time, so all 20 calls are seen, and the capture ends with the program.
TEST_F(CaptureTrace, SnapshotsOnBreakpointUnderGdbserver) {
  std::unique_ptr<ChildProcess> server;
  const std::string seq = dir_.file("on.seq");
  mpheap::testing::CliRun run;
  ASSERT_NO_FATAL_FAILURE(snapshots_on_hook(server, seq, &run));
  ASSERT_EQ(run.status, 0) << run.out;
  EXPECT_NE(run.out.find("20 snapshots"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("the target's program ended"), std::string::npos) << run.out;
  std::string text = mpheap::testing::read_file(seq);
  // Snapshot 6 (the 7th hook call): build_b's third allocation at blocks 14..16.
  std::size_t at = 0;
  for (int i = 0; i <= 6; ++i) at = text.find("MPHEAP-SNAPSHOT", at) + 1;
  std::size_t data = text.find('\n', at) + 1;
  EXPECT_EQ(text[data + 14], 1);
  EXPECT_EQ(text[data + 16], 2);
  EXPECT_EQ(text[data + 17], 0);
  EXPECT_NE(text.find("trigger=on:gc_log_change"), std::string::npos);
}

// The wrong ELF: a build of the same program with other flags (so gc_log_change's code differs)
// is refused before the first breakpoint, with both byte strings, and nothing is written. The
// right ELF passes the same check (SnapshotsOnBreakpointUnderGdbserver).
TEST_F(CaptureTrace, SnapshotsRefuseAnElfThatIsNotTheRunningProgram) {
  const std::string other = dir_.file("hooked_nopie_O2");
  ASSERT_TRUE(compile(kProgram, other, "-no-pie -O2"));
  std::unique_ptr<ChildProcess> server;
  const std::string seq = dir_.file("wrong.seq");
  mpheap::testing::CliRun run;
  ASSERT_NO_FATAL_FAILURE(snapshots_on_hook(server, seq, &run, other));
  EXPECT_EQ(run.status, 1) << run.out;
  EXPECT_NE(run.out.find("the running firmware is not this ELF: at gc_log_change (0x"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("the ELF has "), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(" but the target has "), std::string::npos) << run.out;
  EXPECT_EQ(std::count(run.out.begin(), run.out.end(), '\n'), 1) << run.out;  // one message
  EXPECT_FALSE(std::filesystem::exists(seq));
  EXPECT_FALSE(std::filesystem::exists(seq + ".part"));
  server->kill();
}

// Ctrl-C: the capture ends with a complete log that mpheap trace reads.
TEST_F(CaptureTrace, InterruptEndsWithCompleteLog) {
  std::unique_ptr<ChildProcess> server;
  const int port = serve(server, dir_.file("hooked"), {"loop"});
  const std::string log = dir_.file("interrupted.txt");
  ChildProcess capture({MPHEAP_CLI, "capture", "trace", "--elf", dir_.file("hooked"), "--remote",
                        fmt::format("127.0.0.1:{}", port), "--no-until", "-o", log},
                       dir_.file("capture_out.txt"));
  // Wait for some events past the fixed pattern, then interrupt.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    // gdb writes LOG as it goes; the native engine LOG.part, renamed at the end.
    std::string text = mpheap::testing::read_file(log) + mpheap::testing::read_file(log + ".part");
    std::size_t stops = 0;
    for (std::size_t p = 0; (p = text.find("\nBreakpoint 1, ", p)) != std::string::npos; ++p)
      ++stops;
    if (stops > 40) break;
    std::this_thread::sleep_for(100ms);
  }
  capture.signal(SIGINT);
  EXPECT_EQ(capture.wait(30s), 0) << mpheap::testing::read_file(dir_.file("capture_out.txt"));
  auto summary = mpheap::testing::run_mpheap(fmt::format("trace {} -q --summary-json -", log));
  ASSERT_EQ(summary.status, 0) << summary.out;
  auto j = nlohmann::json::parse(summary.out);
  EXPECT_GT(j["events"].get<int>(), 40);
  EXPECT_EQ(j["incomplete_last_event"], false);
  server->kill();
  // gdb detached, so the program runs on outside gdbserver's process group: end it too.
  std::smatch pid;
  std::string served = mpheap::testing::read_file(dir_.file("gdbserver.txt"));
  if (std::regex_search(served, pid, std::regex("pid = (\\d+)")))
    ::kill(static_cast<pid_t>(std::stol(pid[1].str())), SIGKILL);
}

TEST_F(CaptureTrace, BadInputOneMessageNoLog) {
  const std::string log = dir_.file("bad.txt");
  // An ELF without the hook, for gdb (the native engine traces the collector's functions
  // instead: native_trace_e2e_test.cpp).
  ASSERT_TRUE(compile(std::string(MPHEAP_CAPTURE_PROGRAMS) + "/no_hook.c", dir_.file("no_hook")));
  auto no_hook = mpheap::testing::run_mpheap(
      fmt::format("capture trace --engine gdb --elf {} --remote :1 -o {}", dir_.file("no_hook"),
                  log),
      true);
  EXPECT_EQ(no_hook.status, 1);
  EXPECT_NE(no_hook.out.find("no function gc_log_change"), std::string::npos) << no_hook.out;
  EXPECT_NE(no_hook.out.find("LOG_HEAP_ACTIVITY"), std::string::npos);
  EXPECT_EQ(std::count(no_hook.out.begin(), no_hook.out.end(), '\n'), 1) << no_hook.out;
  // No gdb.
  auto no_gdb = mpheap::testing::run_mpheap(
      fmt::format("capture trace --elf {} --remote :1 --gdb /nonexistent/gdb -o {}",
                  dir_.file("hooked"), log),
      true);
  EXPECT_EQ(no_gdb.status, 1);
  EXPECT_NE(no_gdb.out.find("'/nonexistent/gdb' is not an executable gdb"), std::string::npos)
      << no_gdb.out;
  auto empty_path = mpheap::testing::run_shell(
      fmt::format("PATH=/nonexistent '{}' capture trace --engine gdb --elf '{}' --remote :1 -o "
                  "'{}' 2>'{}'",
                  MPHEAP_CLI, dir_.file("hooked"), log, dir_.file("nogdb.txt")));
  EXPECT_EQ(empty_path, 1);
  EXPECT_NE(
      mpheap::testing::read_file(dir_.file("nogdb.txt")).find("apt-get install gdb-multiarch"),
      std::string::npos);
  // A remote that does not answer.
  auto no_server = mpheap::testing::run_mpheap(
      fmt::format("capture trace --elf {} --remote 127.0.0.1:{} -o {}", dir_.file("hooked"),
                  mpheap::testing::free_port(), log),
      true);
  EXPECT_EQ(no_server.status, 1);
  EXPECT_NE(no_server.out.find("cannot connect"), std::string::npos) << no_server.out;
  auto bad_style = mpheap::testing::run_mpheap(
      fmt::format("capture trace --elf {} --remote :1 --style fancy -o {}", dir_.file("hooked"),
                  log),
      true);
  EXPECT_EQ(bad_style.status, 1);
  EXPECT_FALSE(std::filesystem::exists(log));
}

}  // namespace
}  // namespace mpheap::capture
