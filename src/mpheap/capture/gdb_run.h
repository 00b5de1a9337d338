// Running gdb on a generated command file: find the executable, start it in its own process
// group (so Ctrl-C reaches mpheap first), count the hook stops in the log as it grows, and pass
// an interrupt on so that gdb stops the target and finishes its script.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "mpheap/util/error.h"

namespace mpheap::capture {

// `requested` (a path or a name), else gdb-multiarch, else gdb, searched in PATH.
Expected<std::string> find_gdb(const std::string& requested);

struct GdbResult {
  int exit_status = 0;
  bool interrupted = false;  // *stop became true and gdb was asked to stop
  std::string output;        // what gdb printed outside the log (errors), the last 16 KiB
  std::uint64_t events = 0;  // hook stops in the log
};

// Runs `gdb -nx -batch -x script` and waits for it; `progress(events, seconds)` about twice a
// second while it runs.
Expected<GdbResult> run_gdb(const std::string& gdb, const std::string& script,
                            const std::string& log, const std::atomic<bool>* stop,
                            const std::function<void(std::uint64_t, double)>& progress = {});

// Hook stops ("Breakpoint 1, " at a line start) in a piece of log text; `carry` holds the tail
// of the previous piece between calls.
std::uint64_t count_hook_stops(std::string_view piece, std::string& carry);

// Cuts the log before its last hook stop ("Breakpoint 1, " at a line start), for a stop that an
// interrupt cut short; false when no stop was found in the last MiB.
Expected<bool> drop_last_stop(const std::string& log);

}  // namespace mpheap::capture
