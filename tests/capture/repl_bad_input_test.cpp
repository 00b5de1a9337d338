// `mpheap capture repl` on links that are not a working MicroPython REPL: one clear message each,
// a non-zero exit, and no output file. A scripted fake board on a local TCP port plays each case.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "capture/process_util.h"
#include "cli/cli_runner.h"

namespace mpheap::capture {
namespace {

using mpheap::testing::run_mpheap;
using mpheap::testing::TempDir;

// Accepts one connection and answers what it receives through `respond` (bytes in, bytes out).
class FakeBoard {
 public:
  explicit FakeBoard(std::function<std::string(std::string_view)> respond)
      : respond_(std::move(respond)) {
    listen_ = mpheap::testing::listen_on_loopback(port_);
    if (listen_ < 0) return;
    thread_ = std::thread([this] { run(); });
  }
  ~FakeBoard() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(listen_);
  }
  FakeBoard(const FakeBoard&) = delete;
  FakeBoard& operator=(const FakeBoard&) = delete;
  [[nodiscard]] std::string spec() const { return fmt::format("tcp:127.0.0.1:{}", port_); }

 private:
  void run() {
    pollfd l{listen_, POLLIN, 0};
    while (!stop_ && ::poll(&l, 1, 50) <= 0) {
    }
    if (stop_) return;
    int fd = ::accept(listen_, nullptr, nullptr);
    char buf[4096];
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      std::string out = respond_(std::string_view(buf, static_cast<std::size_t>(n)));
      if (!out.empty()) (void)!::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    }
    ::close(fd);
  }
  std::function<std::string(std::string_view)> respond_;
  int listen_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Outcome {
  int status = -1;
  std::string out;
  bool file_written = false;
};

Outcome capture(const std::string& connect) {
  TempDir dir("repl-bad");
  const std::string seq = dir.file("ram.seq");
  auto r = run_mpheap(
      fmt::format("capture repl --connect {} --ram 0x20000000:0x20004000 -o {}", connect, seq),
      true);
  return {r.status, r.out, std::filesystem::exists(seq) || std::filesystem::exists(seq + ".part")};
}

int count(const std::string& text, const std::string& part) {
  int n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(CaptureReplBadInput, NothingAnswers) {
  FakeBoard silent([](std::string_view) { return std::string(); });
  Outcome o = capture(silent.spec());
  EXPECT_NE(o.status, 0);
  EXPECT_FALSE(o.file_written);
  EXPECT_EQ(count(o.out, "mpheap capture repl:"), 1) << o.out;
  EXPECT_NE(o.out.find("nothing answered within 8.0 s"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("does no other program (mpremote, screen, Thonny) hold it?"),
            std::string::npos)
      << o.out;
}

TEST(CaptureReplBadInput, ABoardThatIsNotMicroPython) {
  FakeBoard shell([](std::string_view) { return std::string("\r\nBusyBox v1.36 login: "); });
  Outcome o = capture(shell.spec());
  EXPECT_NE(o.status, 0);
  EXPECT_FALSE(o.file_written);
  EXPECT_EQ(count(o.out, "mpheap capture repl:"), 1) << o.out;
  EXPECT_NE(o.out.find("answered, but not as MicroPython's raw REPL"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("BusyBox v1.36 login: "), std::string::npos) << o.out;  // what it said
}

TEST(CaptureReplBadInput, AFirmwareWithoutMem8) {
  // A raw REPL as MicroPython 1.9 has it (no raw-paste), on a port whose machine module has no
  // mem8: the reader fails where it is installed.
  std::string code;
  FakeBoard board([&code](std::string_view in) {
    std::string out;
    for (char c : in) {
      if (c == '\x01') {
        code.clear();
        out += "\r\nraw REPL; CTRL-B to exit\r\n>";
      } else if (c == '\x03') {
        code.clear();
      } else if (c == '\x04') {
        out +=
            "OK\x04Traceback (most recent call last):\r\n  File \"<stdin>\", line 108, in "
            "<module>\r\n  File \"<stdin>\", line 14, in _mpheap_g\r\nAttributeError: 'module' "
            "object has no attribute 'mem8'\r\n\x04>";
        code.clear();
      } else {
        code += c;
      }
    }
    return out;
  });
  Outcome o = capture(board.spec());
  EXPECT_EQ(o.status, 1) << o.out;
  EXPECT_FALSE(o.file_written);
  EXPECT_EQ(count(o.out, "mpheap capture repl:"), 1) << o.out;
  EXPECT_NE(o.out.find("this firmware has no machine.mem8"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("AttributeError: 'module' object has no attribute 'mem8'"),
            std::string::npos)
      << o.out;
}

TEST(CaptureReplBadInput, UsageErrors) {
  TempDir dir("repl-usage");
  const std::string seq = dir.file("ram.seq");
  for (const char* args : {"--connect tcp:127.0.0.1:0 --ram 0x20000000:0x20004000",
                           "--connect tcp:nowhere --ram 0x20000000:0x20004000",
                           "--connect ttyACM0 --baud 12345 --ram 0x20000000:0x20004000",
                           "--connect tcp:127.0.0.1:9 --ram 0x50000000:0x50004000"}) {
    auto r = run_mpheap(fmt::format("capture repl {} -o {}", args, seq), true);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(count(r.out, "mpheap capture repl:"), 1) << args << ": " << r.out;
    EXPECT_FALSE(std::filesystem::exists(seq)) << args;
  }
  auto big = run_mpheap(
      fmt::format("capture repl --connect tcp:127.0.0.1:9 --ram 0x50000000:0x50004000 -o {}", seq),
      true);
  EXPECT_NE(big.out.find("below 2^30"), std::string::npos) << big.out;
  auto baud = run_mpheap(
      fmt::format("capture repl --connect ttyACM0 --baud 12345 --ram 0x20000000:0x20004000 -o {}",
                  seq),
      true);
  EXPECT_NE(baud.out.find("12345 is not a standard rate"), std::string::npos) << baud.out;
}

}  // namespace
}  // namespace mpheap::capture
