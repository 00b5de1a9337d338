// Helpers shared by the trace tests: run the pipeline over a file or a string.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "mpheap/io/line_reader.h"
#include "mpheap/trace/trace_analysis.h"

namespace mpheap::testing {

// Debian's firmware-microbit-micropython (MicroPython 1.9.2, no ELF); tests that need it skip
// when the package is not installed. It is never copied into the repository.
inline constexpr const char* kDebianMicrobitHex =
    "/usr/share/firmware-microbit-micropython/firmware.hex";

inline std::string data_path(const std::string& rel) {
  return std::string(MPHEAP_TEST_DATA) + "/" + rel;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A `mpheap capture trace --no-hook` log of a 64-bit unix build with Python frames (`[py]`
// lines before the mp_execute_bytecode frame that runs them), as the native tracer writes it:
//   event 0  alloc 0+2  start-up, C frames only
//   event 1  alloc 2+1  a tuple in squares (<stdin>:47) called from <module> (workload.py:29)
//   event 2  alloc 3+1  a list at the same Python lines, through another C function
//   event 3  alloc 4+1  a dict under an unresolved Python frame
//   event 4  free  2    gc_free called straight from <module> (workload.py:31)
//   event 5  sweep 4    gc_collect_end under gc.collect() in <module> (workload.py:33)
// Live at the end: blocks 0 (2, start-up) and 3 (1, the list).
inline constexpr std::string_view kPythonFramesLog =
    "# mpheap capture trace --no-hook: each stop is one change of the heap in the collector's "
    "own function (gc_alloc, gc_free, gc_realloc; gc_collect_end or gc_sweep_all for the sweep), "
    "frame #0 included\n"
    "\n"
    "Breakpoint 1, gc_alloc () at ../../py/gc.c:849\n"
    "#0  gc_alloc () at ../../py/gc.c:849\n"
    "#1  0x000055555556c99d in m_malloc () at ../../py/malloc.c:86\n"
    "#2  0x0000555555581037 in mp_map_init () at ../../py/map.c:95\n"
    "#3  0x00005555555ac054 in main_ () at micropython/ports/unix/main.c:496\n"
    "$1 = 0x0\n$2 = 0x2\n"
    "\n"
    "Breakpoint 1, gc_alloc () at ../../py/gc.c:849\n"
    "#0  gc_alloc () at ../../py/gc.c:849\n"
    "#1  0x000055555556c99d in m_malloc () at ../../py/malloc.c:86\n"
    "#2  0x000055555558cd7a in mp_obj_new_tuple (items=0x7fffffffe3d0, n=2) at "
    "../../py/objtuple.c:244\n"
    "#3  [py] squares at <stdin>:47\n"
    "#4  0x000055555559360a in mp_execute_bytecode (code_state=0x7fffffffe300, inject_exc=0x0) "
    "at ../../py/vm.c:825\n"
    "#5  0x000055555558561d in fun_bc_call (self_in=0x5555555d8a40, n_args=1, n_kw=0, "
    "args=0x7fffffffe3a0) at ../../py/objfun.c:294\n"
    "#6  [py] <module> at workload.py:29\n"
    "#7  0x000055555559360a in mp_execute_bytecode (code_state=0x7fffffffe380, inject_exc=0x0) "
    "at ../../py/vm.c:825\n"
    "#8  0x000055555558561d in fun_bc_call (self_in=0x5555555d89e0, n_args=0, n_kw=0, "
    "args=0x0) at ../../py/objfun.c:294\n"
    "#9  0x00005555555ac0a8 in main_ () at micropython/ports/unix/main.c:520\n"
    "$3 = 0x2\n$4 = 0x1\n"
    "\n"
    "Breakpoint 1, gc_alloc () at ../../py/gc.c:849\n"
    "#0  gc_alloc () at ../../py/gc.c:849\n"
    "#1  0x000055555556c99d in m_malloc () at ../../py/malloc.c:86\n"
    "#2  0x000055555558b1e2 in mp_obj_new_list (n=3, items=0x0) at ../../py/objlist.c:477\n"
    "#3  [py] squares at <stdin>:47\n"
    "#4  0x000055555559360a in mp_execute_bytecode (code_state=0x7fffffffe300, inject_exc=0x0) "
    "at ../../py/vm.c:825\n"
    "#5  0x000055555558561d in fun_bc_call (self_in=0x5555555d8a40, n_args=1, n_kw=0, "
    "args=0x7fffffffe3a0) at ../../py/objfun.c:294\n"
    "#6  [py] <module> at workload.py:29\n"
    "#7  0x000055555559360a in mp_execute_bytecode (code_state=0x7fffffffe380, inject_exc=0x0) "
    "at ../../py/vm.c:825\n"
    "#8  0x000055555558561d in fun_bc_call (self_in=0x5555555d89e0, n_args=0, n_kw=0, "
    "args=0x0) at ../../py/objfun.c:294\n"
    "#9  0x00005555555ac0a8 in main_ () at micropython/ports/unix/main.c:520\n"
    "$5 = 0x3\n$6 = 0x1\n"
    "\n"
    "Breakpoint 1, gc_alloc () at ../../py/gc.c:849\n"
    "#0  gc_alloc () at ../../py/gc.c:849\n"
    "#1  0x000055555556c99d in m_malloc () at ../../py/malloc.c:86\n"
    "#2  0x0000555555584229 in mp_obj_new_dict (n_args=0) at ../../py/objdict.c:646\n"
    "#3  [py] ?? (code_state: optimized out)\n"
    "#4  0x000055555559360a in mp_execute_bytecode (code_state=<optimized out>, "
    "inject_exc=0x0) at ../../py/vm.c:825\n"
    "#5  0x00005555555ac0a8 in main_ () at micropython/ports/unix/main.c:520\n"
    "$7 = 0x4\n$8 = 0x1\n"
    "\n"
    "Breakpoint 1, gc_free () at ../../py/gc.c:1010\n"
    "#0  gc_free () at ../../py/gc.c:1010\n"
    "#1  [py] <module> at workload.py:31\n"
    "#2  0x000055555559360a in mp_execute_bytecode (code_state=0x7fffffffe380, inject_exc=0x0) "
    "at ../../py/vm.c:825\n"
    "#3  0x00005555555ac0a8 in main_ () at micropython/ports/unix/main.c:520\n"
    "$9 = 0x2\n$10 = 0x0\n"
    "\n"
    "Breakpoint 1, gc_collect_end () at ../../py/gc.c:520\n"
    "#0  gc_collect_end () at ../../py/gc.c:520\n"
    "#1  0x0000555555569b1c in gc_collect () at ../../py/gc.c:470\n"
    "#2  0x00005555555907c3 in py_gc_collect () at ../../py/modgc.c:37\n"
    "#3  [py] <module> at workload.py:33\n"
    "#4  0x000055555559360a in mp_execute_bytecode (code_state=0x7fffffffe380, inject_exc=0x0) "
    "at ../../py/vm.c:825\n"
    "#5  0x00005555555ac0a8 in main_ () at micropython/ports/unix/main.c:520\n"
    "$11 = 0x4\n$12 = 0x0\n"
    "\n"
    "Breakpoint 2, mp_deinit () at ../../py/runtime.c:204\n";

inline Expected<trace::TraceResult> analyze_text(std::string_view text,
                                                 const trace::TraceOptions& options = {},
                                                 trace::LifespanSink* sink = nullptr) {
  auto reader = io::LineReader::from_memory(text, "test.log");
  return trace::analyze_trace(*reader, options, sink);
}

inline std::uint64_t kind(const trace::TraceSummary& s, trace::EventKind k) {
  return s.kinds[static_cast<int>(k)];
}

}  // namespace mpheap::testing
