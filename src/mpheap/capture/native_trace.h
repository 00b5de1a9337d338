// Native tracing: mpheap drives the GDB remote protocol itself (no gdb), stops where the
// collector changes the heap, reads the registers and one window of stack per stop and names
// the call stack offline (target::elf::DebugInfo). Two ways to find the changes:
//   - hook: the firmware calls gc_log_change(start_block, length) at every change (a patched
//     build); one breakpoint at its first statement, its arguments from their DWARF locations.
//   - gc functions (no hook, a stock build): breakpoints on gc_alloc, gc_free, gc_realloc,
//     gc_collect_end and gc_sweep_all, a temporary one on each call's return address, and the
//     allocation table read after every collection; the same events as a hooked build logs.
// Events go to a sink (the CLI writes the backtrace-style log `mpheap trace` reads).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/capture/rsp_client.h"
#include "mpheap/target/debug_info.h"
#include "mpheap/util/error.h"

namespace mpheap::capture {

enum class TraceMode { hook, gc_functions };

// The collector's functions the hookless mode breaks on, as MicroPython 1.19 to 1.28 and
// CircuitPython 9 and 10 declare them (py/gc.c at those tags): the parameters it reads are the
// leading ones, by position. An ELF whose DWARF declares fewer is another signature, refused.
struct GcSignature {
  std::string_view name;
  bool required = true;
  int parameters = 0;  // declared parameters, at least
  std::string_view declaration;
};
inline constexpr GcSignature kGcSignatures[] = {
    {"gc_alloc", true, 2, "void *gc_alloc(size_t n_bytes, unsigned int alloc_flags)"},
    {"gc_free", true, 1, "void gc_free(void *ptr)"},
    {"gc_realloc", false, 3, "void *gc_realloc(void *ptr_in, size_t n_bytes, bool allow_move)"},
    {"gc_collect_end", true, 0, "void gc_collect_end(void)"},
    {"gc_sweep_all", false, 0, "void gc_sweep_all(void)"},
};

// Link-time entry addresses of the collector's functions; nullopt where the ELF has none.
struct GcFunctions {
  std::optional<std::uint64_t> alloc, free, realloc, collect_end, sweep_all;
  // Parts GCC split off them (`gc_free.part.0`): entered by calls that skip the function's own
  // entry, so they are entries too, of the same kind as `of`.
  struct Part {
    std::string name;
    std::uint64_t address = 0;
    std::string of;  // "gc_free"
  };
  std::vector<Part> parts;
};

// Where the heap's geometry is: &mp_state_ctx.mem.area and the offsets of its fields (link-time;
// the load bias is added), and the collector's block size.
struct HeapAreaLayout {
  std::uint64_t state_address = 0;  // mp_state_ctx, copied with the heap at a checkpoint
  std::uint64_t state_size = 0;
  std::uint64_t area_address = 0;
  std::uint64_t alloc_table_start = 0, alloc_table_byte_len = 0, pool_start = 0, pool_end = 0;
  std::uint32_t word_size = 4;
  std::uint32_t block_size = 16;
  bool little_endian = true;
};

// A function at whose calls the heap is copied (and once more at the end, while the target is
// still there).
struct HeapCheckpoint {
  std::string name;
  std::uint64_t address = 0;  // link-time
};

// Python frames in the stacks: at every frame of mp_execute_bytecode, its code_state (parameter
// 0, from its DWARF location with that frame's unwound registers) is handed to `resolve`, whose
// frame (SourceFrame::python) is listed just before the VM's. `forget` hears of every block
// freed (its run-time address), so that what the resolver keeps of a function object is not
// taken for a new object at the same address.
struct PythonFrameSource {
  std::function<target::elf::SourceFrame(std::uint64_t code_state,
                                         const target::elf::MemoryReader& read)>
      resolve;
  std::function<void(std::uint64_t address)> forget;
  std::string vm_function = "mp_execute_bytecode";
};

struct NativeTracePlan {
  TraceMode mode = TraceMode::hook;
  std::uint64_t load_bias = 0;
  int breakpoint_kind = 2;  // Z0's kind: 2 Thumb, 1 x86
  bool little_endian = true;
  std::string hook_function;           // hook mode: its name, for the log
  std::uint64_t hook_address = 0;      // hook mode: the first statement (link-time)
  GcFunctions gc;                      // gc_functions mode
  std::optional<HeapAreaLayout> heap;  // required by gc_functions mode and checkpoints
  std::vector<HeapCheckpoint> checkpoints;
  std::optional<std::uint64_t> until_address;  // link-time; the capture ends there
  std::string until_name;
  std::optional<std::uint64_t> max_events;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> ram;  // RAM range copied per event
  std::optional<std::uint64_t> stack_top;   // run-time end of the stack, bounds the window read
  std::optional<double> idle_seconds;       // an error when no stop comes for this long
  std::optional<PythonFrameSource> python;  // needs `heap` (freed blocks' addresses)
};

// One event, as a hooked firmware would report it.
struct NativeEvent {
  std::uint64_t start_block = 0;
  std::uint64_t length = 0;  // blocks; 0: freed (gc_free or the sweep)
  // The stack, innermost first: the hook (hook mode) or the collector's function (frame 0).
  std::span<const target::elf::SourceFrame> frames;
  std::string_view function;   // frame 0's function
  std::string_view arguments;  // frame 0's arguments as gdb prints them ("start_block=3, length=2")
};

// A copy of the heap: mp_state_ctx and the area from its allocation table to its pool's end,
// as two ranges in address order (what `mpheap heap` reads as one snapshot).
struct NativeCheckpoint {
  struct Part {
    std::uint64_t start = 0;  // run-time address
    std::vector<std::uint8_t> bytes;
  };
  std::string_view name;     // the function it stopped at, or "end"
  std::uint64_t events = 0;  // events before this stop
  std::vector<Part> parts;
};

enum class NativeEnd { program_exited, until_reached, max_events, interrupted };

struct NativeTraceStats {
  std::uint64_t events = 0;
  std::uint64_t stops = 0;           // every stop, repeats included
  std::uint64_t repeated_stops = 0;  // a stop the stub reported twice (dropped)
  std::uint64_t packets = 0;         // packets sent
  std::uint64_t round_trips = 0;     // waits for an answer (packets sent together wait once)
  std::uint64_t extra_reads = 0;     // reads beyond the stack window (unwinding asked for more)
  std::uint64_t bytes_received = 0;
  std::uint64_t checkpoints = 0;
  // gc_functions: allocations live at the first look at the heap (made before the capture), and
  // heads in the table at the last collection that the trace never saw allocated (missed events:
  // a soft reset's gc_init, a path into the collector it does not break on).
  std::uint64_t preexisting = 0;
  std::uint64_t unseen_heads = 0;
  // Changes of blocks outside the first heap area (a split heap's other areas): the log's
  // start_block counts in the first area only, so they are left out, and counted here.
  std::uint64_t outside_first_area = 0;
  std::uint64_t stack_window = 0;  // bytes read per stop at the end
  // Python frames: how many were listed, how many of them could not be named (the reason is in
  // the frame), and the reads over the link they cost (beyond the stack window).
  std::uint64_t python_frames = 0, python_unresolved = 0, python_reads = 0;
  double seconds = 0;
  NativeEnd end = NativeEnd::program_exited;
  std::string exit_text;                    // how the program ended ("exited with status 0")
  std::optional<std::uint8_t> exit_status;  // the program exited with this status
  std::optional<target::elf::SourceFrame> end_stop;  // where --until stopped it
};

struct NativeTraceSink {
  std::function<Expected<bool>(const NativeEvent&)> event;
  std::function<Expected<bool>(std::span<const std::uint8_t>)> ram;  // plan.ram, after each event
  std::function<Expected<bool>(const NativeCheckpoint&)> checkpoint;
  std::function<void(const NativeTraceStats&)> progress;  // about twice a second
};

// Runs the plan on a connected client until the program exits, `until` or `max_events` is
// reached or `*stop` is set. Breakpoints are removed at the end; the caller detaches. An error
// of the link returns what it says; the events before it are already with the sink.
Expected<NativeTraceStats> run_native_trace(RspClient& client, target::elf::DebugInfo& debug,
                                            const NativeTracePlan& plan,
                                            const NativeTraceSink& sink,
                                            const std::atomic<bool>* stop);

// The blocks a hookless trace believes live must be the allocation table's heads: the
// allocation table as (start_block -> length) of heads, from its bytes (2 bits per block,
// block 0 in the low bits: 0 free, 1 head, 2 tail, 3 mark).
std::vector<std::pair<std::uint64_t, std::uint64_t>> allocation_table_heads(
    std::span<const std::uint8_t> table, std::uint64_t blocks);

}  // namespace mpheap::capture
