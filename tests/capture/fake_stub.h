// An in-process gdb server for the capture tests: speaks enough of the remote protocol (acks,
// QStartNoAckMode, qSupported with a small PacketSize, ?, m with run-length-encoded replies and
// E14 outside its memory, g, c, 0x03, s, Z0/z0 with a breakpoint that is "hit" soon after each
// continue, D) on a loopback port, for one connection.
#pragma once

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "mpheap/capture/rsp_packet.h"

namespace mpheap::testing {

class FakeStub {
 public:
  struct Options {
    bool answer = true;       // false: accept the connection and never reply
    bool no_ack_mode = true;  // offer QStartNoAckMode
    std::size_t packet_size = 0x100;
    std::uint64_t base = 0x1000;
    std::size_t size = 0x400;
  };
  explicit FakeStub(Options o) : o_(o) {
    for (std::size_t i = 0; i < o_.size; ++i)
      memory_.push_back(i >= 0x100 && i < 0x200 ? 0 : static_cast<std::uint8_t>(i * 7));
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 1);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeStub() {
    quit_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  FakeStub(const FakeStub&) = delete;
  FakeStub& operator=(const FakeStub&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] const std::vector<std::uint8_t>& memory() const { return memory_; }
  std::atomic<int> memory_requests{0};
  std::atomic<int> interrupts{0};
  std::atomic<int> steps{0};
  std::atomic<int> breakpoint_hits{0};
  std::atomic<bool> detached{false};

 private:
  // Hex with runs of 4+ equal digits run-length encoded, as stubs may send them.
  static std::string rle(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i < hex.size();) {
      std::size_t n = 1;
      while (i + n < hex.size() && hex[i + n] == hex[i] && n < 98) ++n;
      // Repeat counts whose character would be '#' or '$' (6, 7) are sent shorter.
      std::size_t more = n - 1;
      if (more == 6 || more == 7) more = 5;
      if (more >= 3) {
        out += hex[i];
        out += '*';
        out += static_cast<char>(more + 29);
        i += more + 1;
      } else {
        out += hex[i];
        ++i;
      }
    }
    return out;
  }
  void send(int fd, const std::string& payload, bool encoded = false) {
    std::string f;
    if (encoded) {
      f = fmt::format("${}#{:02x}", payload, capture::rsp::checksum(payload));
    } else {
      f = capture::rsp::frame(payload);
    }
    if (ack_mode_) f = "+" + f;
    (void)!::send(fd, f.data(), f.size(), MSG_NOSIGNAL);
  }
  void reply(int fd, const std::string& p) {
    if (p.starts_with("qSupported")) {
      send(fd, fmt::format("PacketSize={:x}{}", o_.packet_size,
                           o_.no_ack_mode ? ";QStartNoAckMode+" : ""));
    } else if (p == "QStartNoAckMode" && o_.no_ack_mode) {
      send(fd, "OK");
      ack_mode_ = false;
    } else if (p == "?") {
      send(fd, "S05");
    } else if (p[0] == 'm') {
      ++memory_requests;
      unsigned long long addr = 0, len = 0;
      std::sscanf(p.c_str(), "m%llx,%llx", &addr, &len);
      if (2 * len > o_.packet_size) {
        send(fd, "E01");  // longer than the packet size allows
      } else if (addr < o_.base || addr + len > o_.base + o_.size) {
        send(fd, "E14");
      } else {
        std::string bytes(reinterpret_cast<const char*>(memory_.data()) + (addr - o_.base), len);
        send(fd, rle(capture::rsp::encode_hex(bytes)), true);
      }
    } else if (p == "g") {
      send(fd, "0011223344556677");
    } else if (p == "c") {
      running_ = true;
      resumed_at_ = std::chrono::steady_clock::now();
    } else if (p == "s" || p.starts_with("vCont;s")) {
      ++steps;
      send(fd, "T05thread:01;");
    } else if (p.starts_with("Z0,")) {
      breakpoint_ = true;
      send(fd, "OK");
    } else if (p.starts_with("z0,")) {
      breakpoint_ = false;
      send(fd, "OK");
    } else if (p == "D") {
      detached = true;
      send(fd, "OK");
    } else {
      send(fd, "");
    }
  }
  void serve() {
    pollfd lp{listen_fd_, POLLIN, 0};
    int fd = -1;
    while (!quit_ && fd < 0)
      if (::poll(&lp, 1, 50) > 0) fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    capture::rsp::PacketDecoder d;
    char buf[4096];
    while (!quit_ && !detached) {
      pollfd p{fd, POLLIN, 0};
      int rc = ::poll(&p, 1, 5);
      if (running_ && breakpoint_ &&
          std::chrono::steady_clock::now() - resumed_at_ > std::chrono::milliseconds(5)) {
        running_ = false;
        ++breakpoint_hits;
        send(fd, "T05thread:01;");
      }
      if (rc <= 0) continue;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      if (!o_.answer) continue;
      std::string bytes(buf, static_cast<std::size_t>(n));
      // In arrival order: a `c` and the interrupt that follows it can come in one read when
      // this thread is slow (a loaded ASan run); the interrupt then stops what `c` started.
      d.feed(bytes);
      while (auto u = d.next())
        if (u->kind == capture::rsp::Received::Kind::packet) reply(fd, u->payload);
      if (bytes.find('\x03') != std::string::npos) {
        ++interrupts;
        if (running_) {
          running_ = false;
          send(fd, "T02thread:01;");
        }
      }
    }
    ::close(fd);
  }

  Options o_;
  std::vector<std::uint8_t> memory_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> quit_{false};
  bool ack_mode_ = true;
  bool running_ = false;
  bool breakpoint_ = false;
  std::chrono::steady_clock::time_point resumed_at_;
};

}  // namespace mpheap::testing
