// gdb command file generation for `mpheap capture trace`.
#include "mpheap/capture/gdb_script.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "mpheap/io/file.h"
#include "mpheap/target/elf_image.h"
#include "mpheap/target/elf_lines.h"

namespace mpheap::capture {
namespace {

// A path as gdb's `file` / `set logging file` read it: the rest of the line, verbatim.
std::string gdb_path(const std::string& path) {
  return path;
}

// A path quoted for the `shell` command (/bin/sh).
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

}  // namespace

Expected<HookSite> find_hook(const std::string& elf_path, std::string_view hook) {
  auto bytes = io::read_whole_file(elf_path);
  if (!bytes) return bytes.error();
  auto image = target::elf::ElfImage::open(*bytes, elf_path);
  if (!image) return image.error();
  auto symbols = (*image)->symbols();
  if (!symbols) return symbols.error();
  HookSite site;
  site.function = std::string(hook);
  site.machine = (*image)->machine();
  const target::elf::ElfSymbol* found = nullptr;
  for (const target::elf::ElfSymbol& s : *symbols) {
    if (s.symbol.name == hook && (s.symbol.kind == 'T' || s.symbol.kind == 't')) found = &s;
    if (s.symbol.name == "pyexec_friendly_repl") site.default_until = s.symbol.name;
  }
  if (found == nullptr)
    return Error{
        elf_path, 0, 0,
        fmt::format(
            "no function {}: this firmware was built without the GC activity hook. Build it with "
            "the hook: CircuitPython `make ... LOG_HEAP_ACTIVITY=1` (or "
            "`#define LOG_HEAP_ACTIVITY (1)` in mpconfigboard.h) and DEBUG=1 for line info; "
            "MicroPython: a `__attribute__((noinline)) void {}(size_t start_block, size_t "
            "length)` in py/gc.c called from gc_alloc, gc_free, the sweep and gc_realloc "
            "(docs/capture.md)",
            hook, hook)};
  site.function_address = found->symbol.address;
  std::uint64_t high = found->symbol.address + std::max<std::uint64_t>(found->symbol.size, 1);
  auto rows = target::elf::line_rows((*image)->elf(), found->symbol.address, high);
  auto first = target::elf::first_statement(rows, found->symbol.address);
  if (!first)
    return Error{elf_path, 0, 0,
                 fmt::format("{} at {:#x} has no line table: build the firmware with debug "
                             "information (-g; CircuitPython DEBUG=1) so that gdb can stop after "
                             "the hook's arguments are stored",
                             hook, found->symbol.address)};
  site.address = first->address;
  site.file = first->file;
  site.line = first->line;
  return site;
}

std::string gdb_script(const HookSite& hook, const ScriptOptions& o) {
  std::string s;
  auto line = [&](std::string_view text) {
    s += text;
    s += '\n';
  };
  line(fmt::format("# gdb command file written by `mpheap capture trace` ({} style).",
                   o.style == LogStyle::backtrace ? "backtrace" : "p/x + up"));
  line(fmt::format("# Run: gdb-multiarch -nx -batch -x THIS_FILE   then: mpheap trace {}", o.log));
  line(
      fmt::format("# Breakpoint 1 = the first statement of {} ({}:{}, link address {:#x}, found in "
                  "the ELF's line table).",
                  hook.function, hook.file, hook.line, hook.address));
  line("set width 0");
  line("set height 0");
  line("set pagination off");
  line("set confirm off");
  line("set verbose off");
  line("set print pretty off");
  line(fmt::format("file {}", gdb_path(o.elf)));
  line(fmt::format("set logging file {}", gdb_path(o.log)));
  line("set logging overwrite on");
  line("set logging redirect on");
  line("set logging enabled on");
  line(fmt::format("target remote {}", o.remote));
  if (o.ram) line(fmt::format("shell rm -f {}", shell_quote(o.ram_file)));
  line("set $mpheap_events = 0");
  line("");
  // As an offset from the function, so that gdb relocates it (position-independent builds).
  const std::uint64_t offset = hook.address - hook.function_address;
  if (offset == 0)
    line(fmt::format("break *{}", hook.function));
  else
    line(fmt::format("break *((char *) &{} + {})", hook.function, offset));
  line("commands");
  line("set $mpheap_events = $mpheap_events + 1");
  if (o.style == LogStyle::backtrace) {
    line("backtrace");
    line("p/x start_block");
    line("p/x length");
  } else {
    line("p/x start_block");
    line("p/x length");
    // `up 1` rather than `up`: at the outermost frame it prints that frame again instead of
    // failing, which would end the command list before its `continue`.
    for (int i = 0; i < o.up_frames; ++i) line("up 1");
  }
  if (o.ram)
    line(fmt::format("append binary memory {} {:#x} {:#x}", gdb_path(o.ram_file), o.ram->first,
                     o.ram->second));
  if (o.max_events) {
    line(fmt::format("if $mpheap_events < {}", *o.max_events));
    line("continue");
    line("end");
  } else {
    line("continue");
  }
  line("end");
  line("");
  if (!o.until.empty()) line(fmt::format("break {}", o.until));
  line("continue");
  line("");
  line("# The end: after --until, --max-events or the program's exit.");
  line("delete");
  line("detach");
  line("quit");
  return s;
}

}  // namespace mpheap::capture
