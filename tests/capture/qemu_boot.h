// Booting the micro:bit machines of the QEMU tests: QEMU with no display or monitor, its UART
// on a TCP port that is waited for.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "capture/process_util.h"

namespace mpheap::testing {

// QEMU's micro:bit with the stock 1.28 ELF (its build expects 1 MiB of flash and 256 KiB of
// RAM, and semihosting), or with a HEX file (Debian's 1.9.2 firmware).
inline std::vector<std::string> stock_microbit(const std::string& elf) {
  return {"-M",          "microbit",
          "-global",     "nrf51-soc.flash-size=1048576",
          "-global",     "nrf51-soc.sram-size=262144",
          "-kernel",     elf,
          "-semihosting"};
}
inline std::vector<std::string> hex_microbit(const std::string& hex) {
  return {"-M", "microbit", "-device", "loader,file=" + hex};
}

// Starts `qemu` with `machine`, no display or monitor, `extra`, and the UART on TCP port
// `uart_port`; waits until the port answers.
inline void boot(std::unique_ptr<ChildProcess>& vm, const std::string& qemu,
                 std::vector<std::string> machine, int uart_port, const TempDir& dir,
                 const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {qemu};
  args.insert(args.end(), machine.begin(), machine.end());
  for (const char* a : {"-display", "none", "-monitor", "none"}) args.emplace_back(a);
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back("-chardev");
  args.push_back(
      fmt::format("socket,id=uart,host=127.0.0.1,port={},server=on,wait=off", uart_port));
  args.push_back("-serial");
  args.push_back("chardev:uart");
  vm = std::make_unique<ChildProcess>(args, dir.file("qemu.txt"));
  ASSERT_TRUE(vm->started());
  ASSERT_TRUE(mpheap::testing::wait_for_port(uart_port, std::chrono::seconds(10)));
}

}  // namespace mpheap::testing
