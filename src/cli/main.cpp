// The `mpheap` executable: argument parsing only; the work happens in libmpheap.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // Buffers of 128 KiB and more come from mmap and go back to the system when freed. glibc
  // otherwise raises this threshold to the size of the largest buffer freed so far (an ELF read
  // whole, a dump), after which the tables of the heap analyses live in the brk heap and the
  // holes they leave count in the peak: 1.3 MiB of the 8 MiB snapshot's 31 MiB
  // (bench/README.md). Trace reading is unaffected (its buffers are allocated once).
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  CLI::App app{
      "mpheap shows where the RAM of a MicroPython or CircuitPython firmware goes: which code "
      "allocated the live heap blocks, how the heap changes over time and what it costs.",
      "mpheap"};
  app.set_version_flag("--version", "mpheap 0.1.0");
  app.require_subcommand(1);
  int status = 0;
  mpheap::cli::add_trace_command(app, &status);
  mpheap::cli::add_mpy_command(app, &status);
  mpheap::cli::add_target_command(app, &status);
  mpheap::cli::add_heap_command(app, &status);
  mpheap::cli::add_capture_command(app, &status);
  mpheap::cli::add_report_command(app, &status);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2 (bad input exits 1), with one
    // message under the one prefix every other message has.
    if (e.get_exit_code() == 0) return app.exit(e);
    std::string command = "mpheap";
    for (const CLI::App* sub : app.get_subcommands()) command += " " + sub->get_name();
    std::fprintf(stderr, "%s: %s\nRun '%s --help' for the options.\n", command.c_str(), e.what(),
                 command.c_str());
    return 2;
  }
  return status;
}
