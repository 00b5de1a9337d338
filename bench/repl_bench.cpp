// repl_bench [COUNT]: `mpheap capture repl` as a whole process against real firmware in QEMU,
// with no probe: the stock MicroPython 1.28 build (256 KiB of RAM, raw-paste) and Debian's
// micro:bit 1.9.2 (16 KiB, microbit.uart). Reports per snapshot time, KiB/s of RAM, bytes on the
// wire per byte of RAM, chunks asked again, and the capture process's peak RSS; then, for scale,
// `mpheap capture snapshots` over QEMU's gdbstub (a probe's path) on the same 256 KiB.
// Needs qemu-system-arm and firmware-microbit-micropython.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "free_port.h"
#include "run_child.h"

namespace {

pid_t spawn(const std::vector<std::string>& args, const std::string& err_file) {
  mpheap::bench::ChildOptions o;
  o.count_stdout = false;
  o.stderr_file = err_file;
  o.own_process_group = true;
  return mpheap::bench::spawn_child(args, o);
}

struct Run {
  int status = -1;
  double seconds = 0, peak_mib = 0;
  std::string err;
};

Run run(const std::vector<std::string>& args) {
  const std::string err = "/tmp/repl_bench_err.txt";
  mpheap::bench::ChildOptions o;
  o.count_stdout = false;
  o.stderr_file = err;
  o.own_process_group = true;
  const mpheap::bench::ChildRun c = mpheap::bench::run_child(args, o);
  Run r;
  r.seconds = c.seconds;
  r.status = c.status;
  r.peak_mib = c.peak_rss_mib;
  std::ifstream in(err);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  return r;
}

struct Qemu {
  pid_t pid = -1;
  int uart = 0, gdb = 0;
  ~Qemu() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

void boot(Qemu& q, std::vector<std::string> machine) {
  q.uart = free_port();
  q.gdb = free_port();
  std::vector<std::string> args{"qemu-system-arm"};
  args.insert(args.end(), machine.begin(), machine.end());
  for (std::string a :
       {std::string("-display"), std::string("none"), std::string("-monitor"), std::string("none"),
        std::string("-gdb"), fmt::format("tcp:127.0.0.1:{}", q.gdb), std::string("-chardev"),
        fmt::format("socket,id=u,host=127.0.0.1,port={},server=on,wait=off", q.uart),
        std::string("-serial"), std::string("chardev:u")})
    args.push_back(a);
  q.pid = spawn(args, "/dev/null");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
}

// One board: COUNT captures of one snapshot each (a whole process each: connect, raw REPL,
// install and try the reader, read all RAM the ELF or the chip table names, remove the reader).
void bench_repl(const char* name, Qemu& q, const std::vector<std::string>& what, double ram_kib,
                int count) {
  std::vector<double> secs, kibs, wire;
  double peak = 0;
  std::uint64_t asked = 0;
  std::regex line(R"(\(([0-9.]+) KiB/s, ([0-9.]+) bytes on the wire per byte\), (\d+) chunks)");
  for (int i = 0; i < count; ++i) {
    std::vector<std::string> args{MPHEAP_CLI,
                                  "capture",
                                  "repl",
                                  "--connect",
                                  fmt::format("tcp:127.0.0.1:{}", q.uart),
                                  "-o",
                                  "/tmp/repl_bench.seq"};
    args.insert(args.end(), what.begin(), what.end());
    Run r = run(args);
    if (r.status != 0) {
      fmt::print("{}: capture failed: {}\n", name, r.err);
      return;
    }
    std::smatch m;
    if (std::regex_search(r.err, m, line)) {
      kibs.push_back(std::stod(m[1]));
      wire.push_back(std::stod(m[2]));
      asked += std::stoull(m[3]);
    }
    secs.push_back(r.seconds);
    peak = std::max(peak, r.peak_mib);
  }
  std::sort(secs.begin(), secs.end());
  std::sort(kibs.begin(), kibs.end());
  std::sort(wire.begin(), wire.end());
  fmt::print(
      "{}: {} captures of {:.0f} KiB: whole process {:.2f} s median ({:.2f}..{:.2f}); the read "
      "itself {:.1f} KiB/s median; {:.3f} bytes on the wire per byte of RAM; {} chunks asked "
      "again in all; peak RSS {:.1f} MiB\n",
      name, secs.size(), ram_kib, secs[secs.size() / 2], secs.front(), secs.back(),
      kibs.empty() ? 0.0 : kibs[kibs.size() / 2], wire.empty() ? 0.0 : wire[wire.size() / 2], asked,
      peak);
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 5;
  const std::string elf =
      std::string(MPHEAP_SOURCE_DIR) + "/tests/data/stock-v1.28/qemu-microbit/firmware.elf";
  {
    Qemu q;
    boot(q, {"-M", "microbit", "-global", "nrf51-soc.flash-size=1048576", "-global",
             "nrf51-soc.sram-size=262144", "-kernel", elf, "-semihosting"});
    bench_repl("stock 1.28 (QEMU microbit, 256 KiB)", q, {"--elf", elf}, 256, count);
    // For scale: the same RAM over QEMU's gdbstub (a debug probe's path).
    Run g =
        run({MPHEAP_CLI, "capture", "snapshots", "--remote", fmt::format("127.0.0.1:{}", q.gdb),
             "--ram", "0x20000000:0x20040000", "--count", "1", "-o", "/tmp/repl_bench_gdb.seq"});
    fmt::print(
        "  the same 256 KiB over the gdbstub (capture snapshots, whole process): {:.2f} s, "
        "peak RSS {:.1f} MiB{}\n",
        g.seconds, g.peak_mib, g.status == 0 ? "" : " (failed: " + g.err + ")");
  }
  {
    Qemu q;
    boot(q, {"-M", "microbit", "-device",
             "loader,file=/usr/share/firmware-microbit-micropython/firmware.hex"});
    bench_repl("Debian micro:bit 1.9.2 (QEMU microbit, 16 KiB)", q, {}, 16, count);
  }
  std::remove("/tmp/repl_bench.seq");
  std::remove("/tmp/repl_bench_gdb.seq");
  std::remove("/tmp/repl_bench_err.txt");
  return 0;
}
