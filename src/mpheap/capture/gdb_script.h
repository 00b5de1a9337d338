// The gdb command file of `mpheap capture trace`: where the GC hook's first statement is (from
// the ELF's line table, never a hand-edited line number) and the script that logs every hook
// call in the backtrace or the p/x + up style `mpheap trace` reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mpheap/util/error.h"

namespace mpheap::capture {

enum class LogStyle { backtrace, pup };

// The hook and the end location found in a firmware ELF.
struct HookSite {
  std::string function = "gc_log_change";
  std::uint64_t function_address = 0;
  std::uint64_t address = 0;  // the first statement: the breakpoint
  std::string file;
  int line = 0;
  std::string default_until;  // the REPL's entry when the ELF has one, else empty
  std::string machine;        // ELF e_machine name, e.g. "ARM"
};

// Reads the ELF: the hook must be a function with a line table (else an error that says how to
// build a firmware with LOG_HEAP_ACTIVITY and -g).
Expected<HookSite> find_hook(const std::string& elf_path, std::string_view hook = "gc_log_change");

struct ScriptOptions {
  std::string elf;     // absolute path, loaded with `file`
  std::string remote;  // HOST:PORT for `target remote`
  LogStyle style = LogStyle::backtrace;
  std::string log;    // the log gdb writes
  std::string until;  // end location (gdb linespec), empty: none
  std::optional<std::uint64_t> max_events;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> ram;  // RAM range dumped per event
  std::string ram_file;                                        // where those dumps are appended
  int up_frames = 4;  // `up` commands per event in the pup style
};

// The command file. Run it with `gdb -nx -batch -x FILE`.
std::string gdb_script(const HookSite& hook, const ScriptOptions& options);

}  // namespace mpheap::capture
