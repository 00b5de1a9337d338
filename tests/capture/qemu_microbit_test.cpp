// End to end on a real firmware nobody here wrote: Debian's MicroPython 1.9.2 for the micro:bit
// (package firmware-microbit-micropython) in `qemu-system-arm -M microbit`. The test boots it,
// drives its raw REPL over the UART with a workload of its own, runs `mpheap capture snapshots`
// meanwhile, and checks a snapshot taken while the firmware sleeps right after printing
// micropython.mem_info(1): its allocation table block by block (h / = / .) against the printed
// map, and `mpheap heap SEQ --firmware firmware.hex --blockmap` against the printout.
// Without qemu or the firmware the test skips, unless MPHEAP_REQUIRE_E2E=1 (CI), where it fails.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <regex>
#include <sstream>

#include "capture/process_util.h"
#include "cli/cli_runner.h"
#include "heap/mem_info.h"
#include "mpheap/io/firmware_image.h"
#include "mpheap/io/registers.h"
#include "mpheap/io/snapshot_sequence.h"
#include "mpheap/target/from_image.h"
#include "trace/test_util.h"

namespace mpheap::capture {
namespace {

using namespace std::chrono_literals;
using mpheap::testing::ChildProcess;
using mpheap::testing::TempDir;

// This build's heap (tests/data/microbit-debian/README.md): allocation table and pool.
constexpr std::uint64_t kRam = 0x20000000;
constexpr std::uint64_t kAllocTable = 0x200003e0;
constexpr std::size_t kBlocks = 628;

bool e2e_required() {
  const char* v = std::getenv("MPHEAP_REQUIRE_E2E");
  return v != nullptr && std::string(v) == "1";
}

std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// The UART: a TCP connection to QEMU's chardev socket.
class Uart {
 public:
  bool connect(int port, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<std::uint16_t>(port));
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return true;
      ::close(fd_);
      fd_ = -1;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  ~Uart() {
    if (fd_ >= 0) ::close(fd_);
  }
  void send(std::string_view s) const { (void)!::send(fd_, s.data(), s.size(), MSG_NOSIGNAL); }
  // Reads until one of `markers` appears in what was read since the last call; returns the index
  // of the one that appears first (-1 on timeout). What was read up to it is `last()`.
  int read_until_any(std::initializer_list<std::string_view> markers,
                     std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::size_t best = std::string::npos, best_size = 0;
      int which = -1, k = 0;
      for (std::string_view m : markers) {
        if (auto at = pending_.find(m); at < best) best = at, best_size = m.size(), which = k;
        ++k;
      }
      if (which >= 0) {
        last_ = pending_.substr(0, best + best_size);
        pending_.erase(0, best + best_size);
        return which;
      }
      if (std::chrono::steady_clock::now() >= deadline) return -1;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return -1;
      pending_.append(buf, static_cast<std::size_t>(n));
      transcript_.append(buf, static_cast<std::size_t>(n));
    }
  }
  bool read_until(std::string_view marker, std::chrono::milliseconds timeout) {
    return read_until_any({marker}, timeout) == 0;
  }
  [[nodiscard]] const std::string& last() const { return last_; }
  [[nodiscard]] const std::string& transcript() const { return transcript_; }

 private:
  int fd_ = -1;
  std::string pending_, last_, transcript_;
};

// The printed map expanded to one character per block ("(N lines all free)" = N x 64 '.').
std::string expand_map(const std::vector<std::string>& lines) {
  std::string blocks;
  for (const std::string& l : lines) {
    if (auto open = l.find('(');
        open != std::string::npos && l.find("lines all free") != std::string::npos) {
      blocks.append(static_cast<std::size_t>(std::stoi(l.substr(open + 1))) * 64, '.');
    } else if (auto colon = l.find(": "); colon != std::string::npos) {
      blocks += l.substr(colon + 2);
    }
  }
  return blocks;
}

// h / = / . per block from the allocation table (2 bits per block, block 0 in the low bits).
std::string table_map(std::string_view ram) {
  std::string out;
  for (std::size_t b = 0; b < kBlocks; ++b) {
    auto byte = static_cast<std::uint8_t>(ram[kAllocTable - kRam + b / 4]);
    unsigned state = (byte >> (2 * (b % 4))) & 3;
    out += state == 0 ? '.' : state == 2 ? '=' : 'h';
  }
  return out;
}

TEST(CaptureQemuMicrobit, SnapshotsMatchTheFirmwaresBlockMap) {
  const std::string qemu = mpheap::testing::which("qemu-system-arm");
  const std::string hex = mpheap::testing::kDebianMicrobitHex;
  if (qemu.empty() || !std::filesystem::exists(hex)) {
    std::string why = qemu.empty() ? "qemu-system-arm is not installed"
                                   : hex + " is not installed (firmware-microbit-micropython)";
    if (e2e_required()) FAIL() << why << " and MPHEAP_REQUIRE_E2E=1";
    GTEST_SKIP() << why;
  }
  TempDir dir("qemu");
  const int gdb_port = mpheap::testing::free_port();
  int uart_port = mpheap::testing::free_port();
  while (uart_port == gdb_port) uart_port = mpheap::testing::free_port();
  ChildProcess vm(
      {qemu, "-M", "microbit", "-display", "none", "-monitor", "none", "-gdb",
       fmt::format("tcp:127.0.0.1:{}", gdb_port), "-chardev",
       fmt::format("socket,id=uart,host=127.0.0.1,port={},server=on,wait=off", uart_port),
       "-serial", "chardev:uart", "-device", "loader,file=" + hex},
      dir.file("qemu.txt"));
  ASSERT_TRUE(vm.started());
  Uart uart;
  ASSERT_TRUE(uart.connect(uart_port, 10s)) << mpheap::testing::read_file(dir.file("qemu.txt"));
  // (No probe of the gdb port: QEMU halts the machine while a debugger is connected.)
  // QEMU's UART loses bytes when the host is busy (an ASan build beside other tests; the capture
  // halting the machine): the firmware's receive buffer overflows. Every step below is checked
  // by the firmware's answer and repeated when a byte went missing.
  // Boot to the REPL (Ctrl-C until the prompt), then the raw REPL (Ctrl-A).
  bool prompt = false;
  for (int attempt = 0; attempt < 5 && !prompt; ++attempt) {
    uart.send("\r\x03\x03");
    prompt = uart.read_until(">>> ", 3s);
  }
  ASSERT_TRUE(prompt) << uart.transcript();
  bool raw = false;
  for (int attempt = 0; attempt < 4 && !raw; ++attempt) {
    uart.send("\x01");
    raw = uart.read_until("raw REPL; CTRL-B to exit\r\n>", 3s);
  }
  ASSERT_TRUE(raw) << uart.transcript();
  // Raw REPL: code, Ctrl-D; the firmware answers OK, output, \x04, errors, \x04, '>'. The code
  // goes in small pieces with pauses (drops are rarer). Without an OK, the Ctrl-D (or a newline
  // before it) was lost and the firmware still waits for more: Ctrl-C clears its line and the
  // code is sent again.
  auto send_code = [&](const std::string& code) {
    for (int attempt = 0; attempt < 4; ++attempt) {
      for (std::size_t at = 0; at < code.size(); at += 16) {
        uart.send(std::string_view(code).substr(at, 16));
        std::this_thread::sleep_for(3ms);
      }
      uart.send("\x04");
      if (uart.read_until("OK", 5s)) return true;
      uart.send("\x03");
      std::this_thread::sleep_for(300ms);
    }
    ADD_FAILURE() << "the firmware never acknowledged:\n" << code << "\n" << uart.transcript();
    return false;
  };
  // A chunk that arrives damaged does not compile, so nothing of it ran, and it is sent again.
  auto run_chunk = [&](const std::string& code, std::chrono::milliseconds timeout) {
    std::string out, errors;
    std::size_t first = 0;
    for (int attempt = 0; attempt < 4; ++attempt) {
      if (!send_code(code)) return std::string();
      EXPECT_TRUE(uart.read_until("\x04>", timeout)) << uart.transcript();
      out = uart.last();
      first = out.find('\x04');
      if (first == std::string::npos || out.size() < first + 3) return std::string();
      errors = out.substr(first + 1, out.size() - first - 3);
      if (errors.find("SyntaxError") == std::string::npos) break;
    }
    EXPECT_EQ(errors, "") << "the firmware reported an error for:\n" << code;
    return out.substr(0, first);
  };
  run_chunk("import micropython, microbit\n", 5s);

  // Snapshots every 250 ms during the rest of the run, until Ctrl-C (SIGINT) ends the capture.
  const std::string seq = dir.file("ram.seq");
  ChildProcess capture(
      {MPHEAP_CLI, "capture", "snapshots", "--remote", fmt::format("127.0.0.1:{}", gdb_port),
       "--ram", "0x20000000:0x20004000", "--every", "250", "--count", "1000", "-o", seq},
      dir.file("capture.txt"));
  std::this_thread::sleep_for(600ms);
  run_chunk(
      "WORDS = [str(i) * 3 for i in range(30)]\n"
      "TABLE = {}\n"
      "for i in range(12):\n"
      "    TABLE[i] = bytearray(i * 7 + 1)\n"
      "WORDS = WORDS[15:]\n",
      10s);
  // mem_info(1), then a 3 s sleep in which nothing allocates. The map's last line ("02400: ")
  // comes before the sleep; the end of the output (\x04) first means the chunk failed.
  std::string printout;
  for (int attempt = 0; attempt < 4 && printout.empty(); ++attempt) {
    ASSERT_TRUE(send_code("micropython.mem_info(1)\nmicrobit.sleep(3000)\n"));
    const int got = uart.read_until_any({"02400: ", "\x04"}, 10s);
    ASSERT_GE(got, 0) << uart.transcript();
    if (got == 0) {
      printout = uart.last();
    } else {
      ASSERT_TRUE(uart.read_until("\x04>", 5s)) << uart.transcript();
      ASSERT_NE(uart.last().find("SyntaxError"), std::string::npos) << "mem_info(1) failed:\n"
                                                                    << uart.transcript();
    }
  }
  ASSERT_FALSE(printout.empty()) << uart.transcript();
  ASSERT_TRUE(uart.read_until("\r\n", 5s)) << uart.transcript();
  const std::uint64_t printed_at = unix_ms();
  printout += uart.last();
  ASSERT_NE(printout.find("stack:"), std::string::npos) << printout;
  ASSERT_TRUE(uart.read_until("\x04>", 10s)) << uart.transcript();
  run_chunk("TABLE = None\nimport gc\ngc.collect()\n", 5s);

  std::this_thread::sleep_for(600ms);  // a snapshot or two after the collection
  capture.signal(SIGINT);
  int status = capture.wait(30s);
  ASSERT_EQ(status, 0) << mpheap::testing::read_file(dir.file("capture.txt"));
  EXPECT_NE(mpheap::testing::read_file(dir.file("capture.txt")).find("(interrupted)"),
            std::string::npos);
  auto idx = io::index_snapshot_sequence_file(seq);
  ASSERT_TRUE(idx) << idx.error().message();
  ASSERT_GE(idx->size(), 5u);

  // The printed map.
  std::string text = mpheap::testing::read_file(seq);
  auto want = mpheap::testing::parse_mem_info(printout.substr(printout.find("stack:")));
  ASSERT_FALSE(want.map_lines.empty()) << printout;
  std::string want_blocks = expand_map(want.map_lines);
  ASSERT_EQ(want_blocks.size(), kBlocks) << printout;
  for (char& c : want_blocks)
    if (c != '.' && c != '=') c = 'h';

  // Snapshots taken well inside the sleep (QEMU's clock stands while it is halted, so the
  // sleep lasts at least 3 s of wall time).
  std::vector<std::size_t> in_sleep;
  for (std::size_t i = 0; i < idx->size(); ++i) {
    const io::SnapshotHeader& h = (*idx)[i].header;
    if (h.unix_ms > printed_at + 150 && h.unix_ms + 500 < printed_at + 3000) in_sleep.push_back(i);
  }
  ASSERT_FALSE(in_sleep.empty()) << "no snapshot during the sleep; printed at " << printed_at;
  for (std::size_t i : in_sleep) {
    const io::SnapshotEntry& e = (*idx)[i];
    EXPECT_EQ(e.header.start, kRam);
    EXPECT_EQ(e.header.size(), 0x4000u);
    std::string got = table_map(std::string_view(text).substr(e.data_offset, e.header.size()));
    EXPECT_EQ(got, want_blocks) << "snapshot " << i;
  }
  // The whole block map (letters of typed objects too) by mpheap heap on the sequence.
  auto heap = mpheap::testing::run_mpheap(
      fmt::format("heap {} --firmware {} --blockmap --snapshot {}", seq, hex, in_sleep.front()));
  ASSERT_EQ(heap.status, 0) << heap.out;
  auto got = mpheap::testing::parse_mem_info(heap.out);
  EXPECT_EQ(got.map_lines, want.map_lines) << heap.out << "\nprinted:\n" << printout;
  EXPECT_EQ(got.gc_lines, want.gc_lines);
  // The registers of each snapshot's header are roots, and their SP starts the stack scan (the
  // image's vector table says ARM; mp_state_ctx.thread.stack_top is the top of RAM).
  auto roots = mpheap::testing::run_mpheap(
      fmt::format("heap {} --firmware {} --snapshot {}", seq, hex, in_sleep.front()), true);
  ASSERT_EQ(roots.status, 0) << roots.out;
  EXPECT_TRUE(std::regex_search(
      roots.out,
      std::regex(fmt::format("scanning the stack 0x20003[0-9a-f]{{3}}\\.\\.0x20004000: SP from "
                             "snapshot {}'s header",
                             in_sleep.front()))))
      << roots.out;
  // A snapshot after the workload differs from the one in the sleep (the capture saw activity).
  EXPECT_NE(table_map(std::string_view(text).substr(idx->back().data_offset, 0x4000)), want_blocks);

  // A range the target cannot read: one message, status 1, no file.
  const std::string bad = dir.file("bad.seq");
  auto unreadable = mpheap::testing::run_mpheap(
      fmt::format("capture snapshots --remote 127.0.0.1:{} --ram 0x30000000:0x30004000 --count 1 "
                  "-o {}",
                  gdb_port, bad),
      true);
  EXPECT_EQ(unreadable.status, 1);
  EXPECT_NE(unreadable.out.find("not readable: the target answered E14 (reading the range "
                                "0x30000000..0x30004000)"),
            std::string::npos)
      << unreadable.out;
  EXPECT_FALSE(std::filesystem::exists(bad));
  EXPECT_FALSE(std::filesystem::exists(bad + ".part"));

  // --on: a snapshot at each stop at a breakpoint. The firmware's TIMER0 interrupt handler
  // (nRF51 IRQ 8: vector 24 of the image's vector table) runs all the time; each snapshot's
  // registers show the target stopped there (pc = the handler, without the Thumb bit).
  auto image = io::load_firmware_image(hex, std::nullopt);
  ASSERT_TRUE(image) << image.error().message();
  auto vt = target::cortex_m_vector_table(image->image);
  ASSERT_TRUE(vt);
  auto handler = image->image.read(vt->address + 24 * 4, 4, true);
  ASSERT_TRUE(handler);
  ASSERT_EQ(*handler % 2, 1u);
  const std::uint64_t at = *handler - 1;
  const std::string on = dir.file("on.seq");
  auto stops = mpheap::testing::run_mpheap(
      fmt::format("capture snapshots --remote 127.0.0.1:{} --ram 0x20000000:0x20004000 --on {:#x} "
                  "--count 3 -o {}",
                  gdb_port, at, on),
      true);
  ASSERT_EQ(stops.status, 0) << stops.out;
  EXPECT_NE(stops.out.find("3 snapshots of 0x20000000..0x20004000"), std::string::npos)
      << stops.out;
  auto on_idx = io::index_snapshot_sequence_file(on);
  ASSERT_TRUE(on_idx) << on_idx.error().message();
  ASSERT_EQ(on_idx->size(), 3u);
  for (const io::SnapshotEntry& e : *on_idx) {
    EXPECT_EQ(e.header.trigger, fmt::format("on:{:#x}", at));
    auto regs = io::registers_from_g_reply(e.header.registers, "ARM", 4, true);
    ASSERT_TRUE(regs) << regs.error().message();
    EXPECT_EQ(regs->back().name, "pc");
    EXPECT_EQ(regs->back().value, at);
  }
  // The target runs on afterwards: the REPL still answers.
  EXPECT_EQ(run_chunk("print('after', 6 * 7)\n", 5s), "after 42\r\n");
}

}  // namespace
}  // namespace mpheap::capture
