// capture_bench [HOST:PORT] [COUNT]: milliseconds per 16 KiB snapshot over the GDB remote
// protocol (halt, read 0x20000000..0x20004000, registers, resume) and peak RSS. Without
// HOST:PORT it starts `qemu-system-arm -M microbit` with Debian's MicroPython firmware
// (packages qemu-system-arm, firmware-microbit-micropython) on a free port, and stops it after.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "free_port.h"
#include "mpheap/capture/rsp_client.h"
#include "mpheap/capture/snapshots.h"
#include "peak_rss.h"

int main(int argc, char** argv) {
  using namespace mpheap;
  std::string remote_spec = argc > 1 ? argv[1] : "";
  const std::uint64_t count = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 500;
  pid_t qemu = -1;
  if (remote_spec.empty()) {
    const int port = free_port();
    remote_spec = fmt::format("127.0.0.1:{}", port);
    qemu = ::fork();
    if (qemu == 0) {
      ::setpgid(0, 0);
      std::string gdb = fmt::format("tcp:127.0.0.1:{}", port);
      execlp("qemu-system-arm", "qemu-system-arm", "-M", "microbit", "-display", "none", "-monitor",
             "none", "-serial", "null", "-gdb", gdb.c_str(), "-device",
             "loader,file=/usr/share/firmware-microbit-micropython/firmware.hex", nullptr);
      ::_exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // boot to the REPL
  }
  auto stop_qemu = [&] {
    if (qemu > 0) {
      ::kill(qemu, SIGKILL);
      ::waitpid(qemu, nullptr, 0);
    }
  };
  auto remote = capture::parse_remote(remote_spec);
  if (!remote) {
    fmt::print(stderr, "{}\n", remote.error().message());
    stop_qemu();
    return 1;
  }
  auto client = capture::RspClient::connect(*remote, 3000);
  if (!client) {
    fmt::print(stderr, "{}\n", client.error().message());
    stop_qemu();
    return 1;
  }
  capture::SnapshotPlan plan;
  plan.start = 0x20000000;
  plan.end = 0x20004000;
  plan.every_ms = 0;  // back to back: halt, read, resume
  plan.count = count;
  std::vector<double> cycle_ms;
  auto last = std::chrono::steady_clock::now();
  std::uint64_t checksum = 0;
  auto sink = [&](const io::SnapshotHeader&, std::span<const std::uint8_t> b) -> Expected<bool> {
    auto now = std::chrono::steady_clock::now();
    cycle_ms.push_back(std::chrono::duration<double, std::milli>(now - last).count());
    last = now;
    checksum += b[0x3e0];
    return true;
  };
  const auto t0 = std::chrono::steady_clock::now();
  auto stats = capture::capture_snapshots(**client, plan, sink, nullptr);
  const double total =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  (*client)->detach();
  stop_qemu();
  if (!stats) {
    fmt::print(stderr, "{}\n", stats.error().message());
    return 1;
  }
  cycle_ms.erase(cycle_ms.begin());  // the first has no halt before it
  std::sort(cycle_ms.begin(), cycle_ms.end());
  fmt::print(
      "{} snapshots of 16 KiB from {} (packet size {:#x}, {} bytes per m request)\n"
      "  read (halted) per snapshot: {:.3f} ms mean, {:.3f} ms max\n"
      "  halt + read + resume cycle: {:.3f} ms median, {:.3f} ms p99, {:.3f} ms max\n"
      "  total {:.1f} ms, {:.0f} snapshots/s, {:.1f} MB/s of RAM; peak RSS {:.1f} MiB (check {})\n",
      stats->snapshots, remote_spec, (*client)->features().packet_size,
      capture::rsp::memory_chunk((*client)->features().packet_size),
      stats->read_ms_total / static_cast<double>(stats->snapshots), stats->read_ms_max,
      cycle_ms[cycle_ms.size() / 2], cycle_ms[cycle_ms.size() * 99 / 100], cycle_ms.back(), total,
      static_cast<double>(stats->snapshots) / (total / 1000.0),
      static_cast<double>(stats->snapshots) * 16384.0 / 1e6 / (total / 1000.0), peak_rss_mib(),
      checksum);
  return 0;
}
