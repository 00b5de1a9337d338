// The log reader on the variants users' logs take: both styles, gdb's wrapping and noise,
// repeated reports, cut-off logs, the end of the trace, and malformed input.
#include "mpheap/trace/gdb_log_reader.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>

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

// Every event of `text` read in `view`, and the table its stacks are in.
struct ReadLog {
  StackTable stacks;
  std::vector<GcEvent> events;
  LogReadStats stats;
};
ReadLog read_log(std::string_view text, FrameView view) {
  ReadLog out;
  auto input = io::LineReader::from_memory(text, "python.log");
  GdbLogReader reader(*input, out.stacks, "gc_log_change", view);
  for (;;) {
    auto e = reader.next();
    EXPECT_TRUE(e) << e.error().message();
    if (!e || !*e) break;
    out.events.push_back(**e);
  }
  out.stats = reader.stats();
  return out;
}

// "function@location" for each frame of a stack, innermost first; Python frames marked "py:".
std::vector<std::string> frame_names(const StackTable& stacks, StackId stack) {
  std::vector<std::string> out;
  for (FrameId id : stacks.frames_innermost_first(stack)) {
    const Frame& f = stacks.frame(id);
    out.push_back(fmt::format("{}{}@{}", f.python ? "py:" : "", f.function, f.location));
  }
  return out;
}

TEST(GdbLogReader, PythonFramesInTheMixedView) {
  ReadLog r = read_log(mpheap::testing::kPythonFramesLog, FrameView::mixed);
  ASSERT_EQ(r.events.size(), 6u);
  EXPECT_EQ(r.stats.python_stops, 5u);
  EXPECT_EQ(r.stats.duplicates, 0u);
  EXPECT_EQ(r.stats.style, LogStyle::backtrace);
  EXPECT_TRUE(r.stats.wide_addresses);
  EXPECT_EQ(r.stats.frames_without_source, 1u);  // the unresolved Python frame
  EXPECT_EQ(frame_names(r.stacks, r.events[0].stack),
            (std::vector<std::string>{"gc_alloc@../../py/gc.c:849", "m_malloc@../../py/malloc.c:86",
                                      "mp_map_init@../../py/map.c:95",
                                      "main_@micropython/ports/unix/main.c:496"}));
  EXPECT_EQ(frame_names(r.stacks, r.events[1].stack),
            (std::vector<std::string>{
                "gc_alloc@../../py/gc.c:849", "m_malloc@../../py/malloc.c:86",
                "mp_obj_new_tuple@../../py/objtuple.c:244", "py:squares@<stdin>:47",
                "mp_execute_bytecode@../../py/vm.c:825", "fun_bc_call@../../py/objfun.c:294",
                "py:<module>@workload.py:29", "mp_execute_bytecode@../../py/vm.c:825",
                "fun_bc_call@../../py/objfun.c:294", "main_@micropython/ports/unix/main.c:520"}));
  EXPECT_NE(r.events[1].stack, r.events[2].stack);  // different C functions allocated
  // The Python frames as interned.
  auto frames = r.stacks.frames_innermost_first(r.events[1].stack);
  const Frame& squares = r.stacks.frame(frames[3]);
  EXPECT_TRUE(squares.python);
  EXPECT_EQ(squares.function, "squares");
  EXPECT_EQ(squares.location, "<stdin>:47");
  EXPECT_EQ(squares.address, "");  // no code address to show
  EXPECT_FALSE(squares.allocator);
  EXPECT_FALSE(squares.wide_address);
  EXPECT_FALSE(r.stacks.frame(frames[4]).python);  // mp_execute_bytecode
  EXPECT_EQ(r.stacks.frame(frames[4]).address, "0x000055555559360a");
  auto unresolved = r.stacks.frames_innermost_first(r.events[3].stack)[3];
  EXPECT_TRUE(r.stacks.frame(unresolved).python);
  EXPECT_EQ(r.stacks.frame(unresolved).function, "?? (code_state: optimized out)");
  EXPECT_EQ(r.stacks.frame(unresolved).location, "??");
  // The same Python line in two stops is one frame.
  EXPECT_EQ(frames[3], r.stacks.frames_innermost_first(r.events[2].stack)[3]);
  // Each event's caller is its innermost logged frame.
  for (const GcEvent& e : r.events) {
    ASSERT_TRUE(e.caller);
    EXPECT_EQ(*e.caller, r.stacks.frame_of(e.stack));
  }
}

TEST(GdbLogReader, PythonOnlyViewKeepsPythonFramesOfStacksThatHaveThem) {
  ReadLog mixed = read_log(mpheap::testing::kPythonFramesLog, FrameView::mixed);
  ReadLog r = read_log(mpheap::testing::kPythonFramesLog, FrameView::python_only);
  ASSERT_EQ(r.events.size(), 6u);
  EXPECT_EQ(r.stats.python_stops, 5u);
  // Start-up: no Python frame, the stack as logged.
  EXPECT_EQ(frame_names(r.stacks, r.events[0].stack),
            frame_names(mixed.stacks, mixed.events[0].stack));
  EXPECT_EQ(frame_names(r.stacks, r.events[1].stack),
            (std::vector<std::string>{"py:squares@<stdin>:47", "py:<module>@workload.py:29"}));
  EXPECT_EQ(r.events[1].stack, r.events[2].stack);  // the same Python lines: one stack
  EXPECT_EQ(frame_names(r.stacks, r.events[3].stack),
            (std::vector<std::string>{"py:?? (code_state: optimized out)@??"}));
  EXPECT_EQ(frame_names(r.stacks, r.events[4].stack),
            (std::vector<std::string>{"py:<module>@workload.py:31"}));
  EXPECT_EQ(frame_names(r.stacks, r.events[5].stack),
            (std::vector<std::string>{"py:<module>@workload.py:33"}));
  // The caller is still the C function that changed the heap.
  ASSERT_TRUE(r.events[5].caller);
  EXPECT_EQ(r.stacks.frame(*r.events[5].caller).function, "gc_collect_end");
  ASSERT_TRUE(r.events[4].caller);
  EXPECT_EQ(r.stacks.frame(*r.events[4].caller).function, "gc_free");
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    EXPECT_EQ(r.events[i].start_block, mixed.events[i].start_block);
    EXPECT_EQ(r.events[i].length, mixed.events[i].length);
    EXPECT_EQ(r.events[i].line, mixed.events[i].line);
  }
}

// The view changes stacks, not what happened: the same kinds, live blocks and repeats.
TEST(GdbLogReader, PythonOnlyViewKeepsTheEventKinds) {
  TraceOptions python;
  python.frame_view = FrameView::python_only;
  auto m = analyze_text(mpheap::testing::kPythonFramesLog);
  auto p = analyze_text(mpheap::testing::kPythonFramesLog, python);
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_TRUE(p) << p.error().message();
  for (const TraceSummary* s : {&m->summary, &p->summary}) {
    EXPECT_EQ(s->events, 6u);
    EXPECT_EQ(kind(*s, EventKind::alloc), 4u);
    EXPECT_EQ(kind(*s, EventKind::free), 1u);
    EXPECT_EQ(kind(*s, EventKind::sweep), 1u);  // gc_collect_end, though <module> is innermost
    EXPECT_EQ(s->by_caller, 6u);
    EXPECT_EQ(s->live_blocks_end, 3u);
    EXPECT_EQ(s->python_stops, 5u);
    EXPECT_EQ(s->unmatched_frees, 0u);
  }
  EXPECT_EQ(m->summary.frame_view, FrameView::mixed);
  EXPECT_EQ(p->summary.frame_view, FrameView::python_only);
  EXPECT_LT(p->summary.distinct_stacks, m->summary.distinct_stacks);
}

// A repeated report is a repeat of the whole stop: in the Python view two stops with the same
// values and Python frames but different C frames are two events.
TEST(GdbLogReader, PythonOnlyViewDropsOnlyRealRepeats) {
  const std::string header = std::string(kNoHookHeader) + "\n";
  // (One return address is one function and line in a log: the C callers differ in both.)
  auto stop = [](int value, const char* c_function, int address) {
    return fmt::format(
        "\nBreakpoint 1, gc_alloc () at ../../py/gc.c:849\n"
        "#0  gc_alloc () at ../../py/gc.c:849\n"
        "#1  0x{3:016x} in {1} () at ../../py/{1}.c:10\n"
        "#2  [py] f at main.py:3\n"
        "#3  0x0000555555500002 in mp_execute_bytecode () at ../../py/vm.c:825\n"
        "${0} = 0x7\n${2} = 0x1\n",
        value, c_function, value + 1, address);
  };
  const std::string log = header + stop(1, "mp_obj_new_list", 0x1000) +
                          stop(3, "mp_obj_new_list", 0x1000) + stop(5, "mp_obj_new_tuple", 0x2000) +
                          "\n";
  for (FrameView view : {FrameView::mixed, FrameView::python_only}) {
    ReadLog r = read_log(log, view);
    EXPECT_EQ(r.events.size(), 2u);
    EXPECT_EQ(r.stats.duplicates, 1u);
    EXPECT_EQ(r.stats.stops, 3u);
  }
}

// Each allocation's site ("function@location", "py:" for a Python frame) by start block.
class SiteRecorder final : public LifespanSink {
 public:
  void ended(const EndedAllocation& a, const StackTable& stacks) override {
    record(a.allocation, stacks);
  }
  void still_live(const Allocation& a, std::uint64_t /*end_time*/,
                  const StackTable& stacks) override {
    record(a, stacks);
  }
  std::map<std::uint64_t, std::string> sites;

 private:
  void record(const Allocation& a, const StackTable& stacks) {
    auto site = allocation_site(stacks, a.start_stack);
    ASSERT_TRUE(site);
    const Frame& f = stacks.frame(*site);
    sites[a.start_block] = fmt::format("{}{}@{}", f.python ? "py:" : "", f.function, f.location);
  }
};

TEST(TraceAnalysis, PythonOnlyAllocationSiteIsTheInnermostPythonFrame) {
  SiteRecorder mixed, python;
  TraceOptions po;
  po.frame_view = FrameView::python_only;
  CollectionList mixed_collections, python_collections;
  TraceOptions mo;
  mo.collection_sink = &mixed_collections;
  po.collection_sink = &python_collections;
  ASSERT_TRUE(analyze_text(mpheap::testing::kPythonFramesLog, mo, &mixed));
  ASSERT_TRUE(analyze_text(mpheap::testing::kPythonFramesLog, po, &python));
  EXPECT_EQ(mixed.sites,
            (std::map<std::uint64_t, std::string>{{0, "mp_map_init@../../py/map.c:95"},
                                                  {2, "mp_obj_new_tuple@../../py/objtuple.c:244"},
                                                  {3, "mp_obj_new_list@../../py/objlist.c:477"},
                                                  {4, "mp_obj_new_dict@../../py/objdict.c:646"}}));
  // A C-only stack keeps its C site; the others name the Python line.
  EXPECT_EQ(python.sites,
            (std::map<std::uint64_t, std::string>{{0, "mp_map_init@../../py/map.c:95"},
                                                  {2, "py:squares@<stdin>:47"},
                                                  {3, "py:squares@<stdin>:47"},
                                                  {4, "py:?? (code_state: optimized out)@??"}}));
  // The collection's sites follow the same view: squares' two allocations are one site.
  ASSERT_FALSE(python_collections.all.empty());
  ASSERT_FALSE(mixed_collections.all.empty());
  EXPECT_EQ(mixed_collections.all[0].sites.size(), 4u);
  ASSERT_EQ(python_collections.all[0].sites.size(), 3u);
  bool squares_counted = false;
  for (const auto& [frame, counts] : python_collections.all[0].sites) {
    (void)frame;
    if (counts.first == 2) squares_counted = true;
  }
  EXPECT_TRUE(squares_counted);
}

// A C frame that prints like a Python frame is another frame.
TEST(StackTable, PythonFrameIsNotTheCFrameOfTheSameText) {
  StackTable stacks;
  FrameId py = stacks.intern_python_frame("workload.py:29", "<module>");
  FrameId c = stacks.intern_frame("", "workload.py:29", "<module>");
  EXPECT_NE(py, c);
  EXPECT_EQ(stacks.intern_python_frame("workload.py:29", "<module>"), py);
  EXPECT_EQ(stacks.intern_frame("", "workload.py:29", "<module>"), c);
  EXPECT_TRUE(stacks.frame(py).python);
  EXPECT_FALSE(stacks.frame(c).python);
  // A Python file named like the allocator's is still no allocator frame.
  EXPECT_FALSE(stacks.frame(stacks.intern_python_frame("py/gc.c:1", "f")).allocator);
  EXPECT_TRUE(stacks.frame(stacks.intern_frame("0x1", "py/gc.c:1", "f")).allocator);
}

}  // namespace
}  // namespace mpheap::trace

namespace mpheap::trace {
namespace {

// The run's allocation sites (`mpheap trace --sites`): squares' two allocations at <stdin>:47
// are one site in the Python view and two C sites in the mixed one; most allocations first.
TEST(TraceAnalysis, AllocationSitesOfTheWholeRun) {
  TraceOptions po;
  po.frame_view = FrameView::python_only;
  auto python = mpheap::testing::analyze_text(mpheap::testing::kPythonFramesLog, po);
  ASSERT_TRUE(python) << python.error().message();
  auto sites = allocation_sites(*python);
  ASSERT_EQ(sites.size(), 3u);
  const Frame& top = python->stacks.frame(sites[0].frame);
  EXPECT_TRUE(top.python);
  EXPECT_EQ(top.function, "squares");
  EXPECT_EQ(top.location, "<stdin>:47");
  EXPECT_EQ(sites[0].allocations, 2u);
  EXPECT_EQ(sites[0].blocks, 2u);
  for (std::size_t i = 1; i < sites.size(); ++i) EXPECT_EQ(sites[i].allocations, 1u);
  auto mixed = mpheap::testing::analyze_text(mpheap::testing::kPythonFramesLog);
  ASSERT_TRUE(mixed) << mixed.error().message();
  auto c_sites = allocation_sites(*mixed);
  ASSERT_EQ(c_sites.size(), 4u);
  std::uint64_t total = 0;
  for (const AllocationSite& s : c_sites) {
    EXPECT_FALSE(mixed->stacks.frame(s.frame).python);
    total += s.allocations;
  }
  EXPECT_EQ(total, 4u);
}

}  // namespace
}  // namespace mpheap::trace
