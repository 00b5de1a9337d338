// The log reader on the variants users' logs take: both styles, gdb's wrapping and noise,
// repeated reports, cut-off logs, the end of the trace, and malformed input.
#include "mpheap/trace/gdb_log_reader.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace mpheap::trace {
namespace {

using mpheap::testing::analyze_text;
using mpheap::testing::kind;

// One stop in backtrace style with the values printed after the frames (the unix fixture's
// layout). `caller` is frame #1.
std::string backtrace_stop(int start, int length, const std::string& caller, int value_number = 1) {
  return fmt::format(
      "\nBreakpoint 1, gc_log_change (start_block={0}, length={1}) at ../../py/gc.c:151\n"
      "151\t    gc_log_sink = start_block;\n"
      "#0  gc_log_change (start_block={0}, length={1}) at ../../py/gc.c:151\n"
      "#1  0x000055555556d63b in {2} (n_bytes=n_bytes@entry=48) at ../../py/gc.c:967\n"
      "#2  0x0000555555587e5e in mp_map_init (map=0x5555555f25d8 <mp_state_ctx+408>, n=n@entry=3) "
      "at ../../py/map.c:95\n"
      "#3  0x00005555555be488 in main (argc=4, argv=0x7fffffffed28) at main.c:452\n"
      "${3} = 0x{0:x}\n${4} = 0x{1:x}\n",
      start, length, caller, value_number, value_number + 1);
}

// One stop in CircuitPython's `p/x` + `up` style.
std::string up_stop(int start, int length, const std::string& caller) {
  return fmt::format(
      "\nBreakpoint 1, gc_log_change (start_block={0}, length={1}) at ../../py/gc.c:168\n"
      "168\t    change_me += length; // Break on this line.\n"
      "$1 = 0x{0:x}\n$2 = 0x{1:x}\n"
      "#1  0x000055555556a625 in {2} (n_bytes=n_bytes@entry=48, alloc_flags=0) at "
      "../../py/gc.c:1040\n"
      "1040\t    gc_log_change(start_block, end_block - start_block + 1);\n"
      "#2  0x0000555555586420 in mp_map_init (map=0x5555555de558 <mp_state_ctx+440>, n=n@entry=3) "
      "at ../../py/map.c:99\n"
      "99\t        map->table = malloc_table(map->alloc);\n",
      start, length, caller);
}

const char* kPreamble =
    "Breakpoint 1 at 0x18b1a: file ../../py/gc.c, line 151.\n"
    "Breakpoint 2 at 0x304ed: file ../../py/runtime.c, line 204.\n"
    "[Thread debugging using libthread_db enabled]\n"
    "Using host libthread_db library \"/lib/x86_64-linux-gnu/libthread_db.so.1\".\n";

TEST(GdbLogReader, BacktraceStyleEventsAndHistoryTimes) {
  std::string log = std::string(kPreamble) + backtrace_stop(0, 2, "gc_alloc") +
                    backtrace_stop(2, 1, "gc_alloc", 3) + backtrace_stop(0, 0, "gc_free", 5) +
                    "\nBreakpoint 2, mp_deinit () at ../../py/runtime.c:204\n" +
                    backtrace_stop(9, 9, "gc_alloc", 7);
  auto r = analyze_text(log);
  ASSERT_TRUE(r) << r.error().message();
  const TraceSummary& s = r->summary;
  EXPECT_EQ(s.events, 3u);
  EXPECT_EQ(kind(s, EventKind::alloc), 2u);
  EXPECT_EQ(kind(s, EventKind::free), 1u);
  EXPECT_EQ(s.live_blocks_end, 1u);
  EXPECT_EQ(s.style, LogStyle::backtrace);
  EXPECT_TRUE(s.wide_addresses);
  EXPECT_EQ(s.block_size, 32u);
  EXPECT_EQ(s.end_reason, "stop at breakpoint 2 in mp_deinit (line 33)");
  EXPECT_FALSE(s.incomplete_last_event);
}

TEST(GdbLogReader, UpStyleMatchesBacktraceStyle) {
  std::string log = std::string(kPreamble) + up_stop(0, 2, "gc_alloc") + up_stop(2, 3, "gc_alloc") +
                    up_stop(2, 0, "gc_free");
  auto r = analyze_text(log);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->summary.style, LogStyle::up);
  EXPECT_EQ(r->summary.events, 3u);
  EXPECT_EQ(r->summary.live_blocks_end, 2u);
  // The stack of the live allocation: gc_alloc then mp_map_init; the hook's frame is not in it.
  StackId live = kEmptyStack;
  for (std::size_t i = 0; i < r->live_by_stack.size(); ++i)
    if (r->live_by_stack[i] > 0) live = static_cast<StackId>(i);
  auto frames = r->stacks.frames_innermost_first(live);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(r->stacks.frame(frames[0]).function, "gc_alloc");
  EXPECT_EQ(r->stacks.frame(frames[1]).location, "../../py/map.c:99");
}

TEST(GdbLogReader, WrappedArgumentListsUnknownAndLibraryFrames) {
  std::string log =
      "\nBreakpoint 1, gc_log_change (start_block=5, length=2) at ../../py/gc.c:142\n"
      "142\t    gc_log_change_sink += length;\n"
      "#0  gc_log_change (start_block=5, length=2) at ../../py/gc.c:142\n"
      "#1  0x00000a7e in gc_alloc (n_bytes=n_bytes@entry=24, \n"
      "    alloc_flags=alloc_flags@entry=0) at ../../py/gc.c:965\n"
      "#2  0x0000d898 in mp_map_init (map=map@entry=0x20000060 <mp_state_ctx+80>, n=n@entry=3)\n"
      "    at ../../py/map.c:95\n"
      "#3  0x00001000 in libfn (a=1) from /lib/arm/libc.so.6\n"
      "#4  0x00000000 in ?? ()\n"
      "$1 = 5\n$2 = 2\n";
  auto r = analyze_text(log);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->summary.events, 1u);
  EXPECT_FALSE(r->summary.wide_addresses);
  EXPECT_EQ(r->summary.block_size, 16u);
  StackId live = kEmptyStack;
  for (std::size_t i = 0; i < r->live_by_stack.size(); ++i)
    if (r->live_by_stack[i] > 0) live = static_cast<StackId>(i);
  auto frames = r->stacks.frames_innermost_first(live);
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(r->stacks.frame(frames[0]).function, "gc_alloc");
  EXPECT_EQ(r->stacks.frame(frames[0]).location, "../../py/gc.c:965");
  EXPECT_EQ(r->stacks.frame(frames[1]).location, "../../py/map.c:95");
  EXPECT_EQ(r->stacks.frame(frames[2]).location, "/lib/arm/libc.so.6");
  EXPECT_EQ(r->stacks.frame(frames[3]).function, "??");
  EXPECT_EQ(r->stacks.frame(frames[3]).location, "??");
  EXPECT_EQ(r->summary.frames_without_source, 1u);
}

TEST(GdbLogReader, NoiseThreadsTicksAndDecimalValues) {
  std::string log =
      "warning: could not load shared library symbols\n"
      "Temporary breakpoint 3, main () at main.c:10\n"  // a stop before the trace: preamble
      "Continuing.\n"
      "\nThread 1 \"micropython\" hit Breakpoint 1, gc_log_change (start_block=7, length=1) at "
      "py/gc.c:140\n"
      "140\t    x;\n$1 = 7\n$2 = 1\n$3 = 1000\n"
      "#1  0x08000100 in gc_alloc (n=16) at py/gc.c:900\n900\t    y;\n"
      "Continuing.\n"
      "Program received signal SIGTRAP, Trace/breakpoint trap.\n"
      "\nBreakpoint 1, gc_log_change (start_block=7, length=0) at py/gc.c:140\n"
      "140\t    x;\n$4 = 7\n$5 = 0\n$6 = 1250\n"
      "#1  0x08000200 in gc_sweep_free_blocks () at py/gc.c:700\n700\t    z;\n"
      "[Inferior 1 (process 42) exited normally]\n";
  CollectionList collections;
  TraceOptions o;
  o.collection_sink = &collections;
  auto r = analyze_text(log, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->summary.events, 2u);
  EXPECT_EQ(kind(r->summary, EventKind::sweep), 1u);
  EXPECT_TRUE(r->summary.has_ticks);
  EXPECT_TRUE(r->summary.sweeps_logged);
  ASSERT_FALSE(collections.all.empty());
  EXPECT_EQ(collections.all[0].ticks, 1250u);
  EXPECT_EQ(r->summary.end_reason, "the program ended (line 22)");
}

TEST(GdbLogReader, ValuesFromTheStopLineWhenNotPrinted) {
  std::string log =
      "\nBreakpoint 1, gc_log_change (start_block=0x10, length=3) at py/gc.c:140\n140\t    x;\n"
      "#0  gc_log_change (start_block=0x10, length=3) at py/gc.c:140\n"
      "#1  0x08000100 in gc_alloc (n=48) at py/gc.c:900\n\n";
  auto r = analyze_text(log);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->summary.live_blocks_end, 3u);
  EXPECT_EQ(r->summary.live_allocations_end, 1u);
}

TEST(GdbLogReader, RepeatedReportIsDroppedAndCounted) {
  std::string once = backtrace_stop(4, 2, "gc_alloc", 1);
  std::string log = once + backtrace_stop(4, 2, "gc_alloc", 3) +
                    backtrace_stop(4, 0, "gc_free", 5) + backtrace_stop(4, 0, "gc_free", 7) +
                    backtrace_stop(4, 2, "gc_alloc", 9);
  auto r = analyze_text(log);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->summary.stops, 5u);
  EXPECT_EQ(r->summary.duplicates, 2u);
  EXPECT_EQ(r->summary.events, 3u);
  EXPECT_EQ(kind(r->summary, EventKind::alloc), 2u);
  EXPECT_EQ(kind(r->summary, EventKind::realloc), 0u);
  EXPECT_EQ(r->summary.unlogged, 0u);
}

TEST(GdbLogReader, CutOffLogKeepsCompleteEvents) {
  std::string full = backtrace_stop(0, 2, "gc_alloc", 1) + backtrace_stop(2, 1, "gc_alloc", 3) +
                     backtrace_stop(3, 1, "gc_alloc", 5);
  // Cut inside the last stop's values, inside its frames, and in the middle of a line.
  for (std::size_t cut : {full.rfind("$6"), full.rfind("#2"), full.rfind("$6") + 3}) {
    auto r = analyze_text(std::string_view(full).substr(0, cut));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->summary.events, 2u) << "cut at " << cut;
    EXPECT_TRUE(r->summary.incomplete_last_event) << "cut at " << cut;
    EXPECT_EQ(r->summary.incomplete_line, 20u);
  }
  // The whole log, with or without a trailing blank line, is complete.
  for (const std::string& whole : {full, full + "\n"}) {
    auto r = analyze_text(whole);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->summary.events, 3u);
    EXPECT_FALSE(r->summary.incomplete_last_event);
  }
}

TEST(GdbLogReader, MalformedInputGivesOneClearError) {
  auto none = analyze_text("hello\nthis is not a gdb log\n");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message().find("expected stops of gdb at the hook"), std::string::npos);
  EXPECT_NE(none.error().message().find("found none in 2 lines"), std::string::npos);

  std::string bad_value = backtrace_stop(0, 2, "gc_alloc");
  bad_value.replace(bad_value.find("$2 = 0x2"), 8, "$2 = {1, 2}");
  auto v = analyze_text(bad_value);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().line, 9u);
  EXPECT_NE(v.error().what.find("expected a number"), std::string::npos);
  EXPECT_NE(v.error().what.find("found '{1, 2}'"), std::string::npos);

  auto huge = analyze_text(
      backtrace_stop(0, 2, "gc_alloc")
          .replace(backtrace_stop(0, 2, "gc_alloc").find("$1 = 0x0"), 8, "$1 = 0x100000000"));
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().what.find("below 2^32"), std::string::npos);

  auto no_values = analyze_text(
      "\nBreakpoint 1, gc_log_change (start_block=<optimized out>, length=<optimized out>) at "
      "gc.c:1\n"
      "#1  0x1 in gc_alloc () at py/gc.c:2\n\n");
  ASSERT_FALSE(no_values);
  EXPECT_EQ(no_values.error().line, 2u);
}

TEST(GdbLogReader, SummaryLineStyle) {
  std::string log =
      "stop 1 start_block=0 length=2 counts=1,0,0,0 caller=gc_alloc + 247 in section .text\n"
      "ram_seq dump 1 after stop 1\n"
      "stop 2 start_block=0 length=2 counts=1,0,0,0 caller=gc_alloc + 247 in section .text\n"
      "stop 3 start_block=0 length=0 counts=1,0,1,0 caller=gc_collect_end + 519 in section .text\n";
  auto r = analyze_text(log);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->summary.style, LogStyle::summary);
  EXPECT_EQ(r->summary.duplicates, 1u);
  EXPECT_EQ(kind(r->summary, EventKind::sweep), 1u);
  EXPECT_EQ(r->summary.live_blocks_end, 0u);
}

}  // namespace
}  // namespace mpheap::trace
