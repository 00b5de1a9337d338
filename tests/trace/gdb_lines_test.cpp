// The line recognisers on lines taken from real gdb logs and on the variants gdb prints.
#include "mpheap/trace/gdb_lines.h"

#include <gtest/gtest.h>

namespace mpheap::trace::gdb {
namespace {

TEST(GdbLines, FrameWithAddressArgsAndLocation) {
  auto f = parse_frame_line(
      "#1  0x000055555556d63b in gc_alloc (n_bytes=n_bytes@entry=48, "
      "alloc_flags=alloc_flags@entry=0) "
      "at ../../py/gc.c:967");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->index, 1u);
  EXPECT_EQ(f->frame.address, "0x000055555556d63b");
  EXPECT_EQ(f->frame.function, "gc_alloc");
  EXPECT_EQ(f->frame.args, "n_bytes=n_bytes@entry=48, alloc_flags=alloc_flags@entry=0");
  EXPECT_EQ(f->frame.location, "../../py/gc.c:967");
}

TEST(GdbLines, InlinedFrameWithoutAddress) {
  auto f = parse_frame_line("#2  gc_collect_end () at ../../py/gc.c:592");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->index, 2u);
  EXPECT_EQ(f->frame.address, "");
  EXPECT_EQ(f->frame.function, "gc_collect_end");
  EXPECT_EQ(f->frame.location, "../../py/gc.c:592");
}

TEST(GdbLines, UnknownFrameAndLibraryFrame) {
  auto unknown = parse_frame_line("#7  0x00000000 in ?? ()");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->frame.function, "??");
  EXPECT_EQ(unknown->frame.location, "");
  auto lib = parse_frame_line(
      "#9  0x00007ffff7829e40 in __libc_start_main_impl (main=0x5555 <main>, argc=4) from "
      "/lib/x86_64-linux-gnu/libc.so.6");
  ASSERT_TRUE(lib);
  EXPECT_EQ(lib->frame.function, "__libc_start_main_impl");
  EXPECT_EQ(lib->frame.location, "/lib/x86_64-linux-gnu/libc.so.6");
  auto bare = parse_frame_line("#3  0x08000abc in Reset_Handler ()");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->frame.function, "Reset_Handler");
  EXPECT_EQ(bare->frame.location, "");
}

TEST(GdbLines, AtInsideStringArgumentIsNotALocation) {
  auto f = parse_frame_line("#4  0x00001234 in mp_print_str (s=0x2000 \"look at this\") ");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->frame.function, "mp_print_str");
  EXPECT_EQ(f->frame.location, "");
  auto g =
      parse_frame_line("#4  0x00001234 in f (s=0x2000 \"x at y.c:1\") at ../../py/objstr.c:12");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->frame.location, "../../py/objstr.c:12");
}

TEST(GdbLines, StopLines) {
  auto s = parse_stop_line(
      "Breakpoint 1, gc_log_change (start_block=1622, length=0) at ../../py/gc.c:151");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->breakpoint, 1u);
  EXPECT_EQ(s->frame.function, "gc_log_change");
  EXPECT_EQ(argument_integer(s->frame.args, 0), 1622u);
  EXPECT_EQ(argument_integer(s->frame.args, 1), 0u);
  auto t = parse_stop_line(
      "Thread 1 \"micropython\" hit Breakpoint 3, gc_log_change "
      "(start_block=start_block@entry=0x10, "
      "length=<optimized out>) at py/gc.c:140");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->breakpoint, 3u);
  EXPECT_EQ(argument_integer(t->frame.args, 0), 16u);
  EXPECT_FALSE(argument_integer(t->frame.args, 1));
  auto temp = parse_stop_line("Temporary breakpoint 2, main () at main.c:10");
  ASSERT_TRUE(temp);
  EXPECT_EQ(temp->frame.function, "main");
  EXPECT_FALSE(parse_stop_line("Breakpoint 1 at 0x18b1a: file ../../py/gc.c, line 151."));
}

// The reader splits a stop line and parses its frame only when it is not the hook's.
TEST(GdbLines, SplitStopLines) {
  auto s = split_stop_line(
      "Thread 1 \"micropython\" hit Hardware assisted breakpoint 7, gc_log_change (start_block=1, "
      "length=2) at py/gc.c:140");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->breakpoint, 7u);
  EXPECT_EQ(s->frame_text, "gc_log_change (start_block=1, length=2) at py/gc.c:140");
  auto t = split_stop_line("Temporary breakpoint 2,   main () at main.c:10");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->frame_text, "  main () at main.c:10");
  EXPECT_FALSE(split_stop_line("Breakpoint 1 at 0x18b1a: file ../../py/gc.c, line 151."));
  EXPECT_FALSE(split_stop_line("Breakpoint 99999999999, gc_log_change (start_block=1, length=2)"));
  EXPECT_FALSE(split_stop_line("Thread 1 \"micropython\" received signal SIGINT"));
}

TEST(GdbLines, ValuesAndIntegers) {
  auto v = parse_value_line("$2401 = 0x656");
  ASSERT_TRUE(v);
  EXPECT_EQ(parse_integer(v->value), 0x656u);
  EXPECT_EQ(parse_integer("1234"), 1234u);
  EXPECT_EQ(parse_integer("0x20000490 <gc_heap+372>"), 0x20000490u);
  EXPECT_FALSE(parse_integer("{759, 61, 650, 1}"));
  EXPECT_FALSE(parse_integer("12abc"));
  EXPECT_FALSE(parse_value_line("$ = 3"));
}

TEST(GdbLines, SourceLinesAndWrapping) {
  EXPECT_TRUE(is_source_line("151\t    gc_log_sink = start_block;"));
  EXPECT_TRUE(is_source_line("967\tin ../../py/gc.c"));
  EXPECT_FALSE(is_source_line("151 not a tab"));
  EXPECT_FALSE(frame_line_looks_complete("#1  0x00000a7e in gc_alloc (n_bytes=n_bytes@entry=24, "));
  EXPECT_TRUE(
      frame_line_looks_complete("#1  0x00000a7e in gc_alloc (n_bytes=24) at ../../py/gc.c:965"));
  EXPECT_TRUE(frame_line_looks_complete("#7  0x00000000 in ?? ()"));
}

// The address value of the fast frame path equals the digits' value for every width and case,
// and is 0 (no fast lookup) for anything that is not "0x" and 1-16 hex digits.
TEST(GdbLines, FrameLineAddressValues) {
  struct Case {
    const char* line;
    std::uint32_t index;
    const char* address;
    std::uint64_t value;
  };
  const Case cases[] = {
      {"#1  0x000055555556d63b in gc_alloc (n=1) at ../../py/gc.c:967", 1, "0x000055555556d63b",
       0x000055555556d63bULL},
      {"#12 0x0000d898 in f ()", 12, "0x0000d898", 0xd898},
      {"#2  0xABCDEF01 in f ()", 2, "0xABCDEF01", 0xabcdef01},
      {"#2  0xFfFfFfFfFfFfFfFf in f ()", 2, "0xFfFfFfFfFfFfFfFf", 0xffffffffffffffffULL},
      {"#3  0x1a in f ()", 3, "0x1a", 0x1a},
      {"#3  0x0123456789a in f ()", 3, "0x0123456789a", 0x0123456789aULL},
      {"#3\t0x12345678 in f ()", 3, "0x12345678", 0x12345678},
      {"#4  0x0000d89g in f ()", 4, "0x0000d89g", 0},
      {"#4  0x00005555g556d63b in f ()", 4, "0x00005555g556d63b", 0},
      {"#4  0x000055555556d63g in f ()", 4, "0x000055555556d63g", 0},
      {"#4  0x0000:d89 in f ()", 4, "0x0000:d89", 0},
      {"#4  0x10000000000000000 in f ()", 4, "0x10000000000000000", 0},
      {"#4  0x in f ()", 4, "0x", 0},
      {"#5  0x0000\x80\x80\x80\x80 in f ()", 5, "0x0000\x80\x80\x80\x80", 0},
  };
  for (const Case& c : cases) {
    auto a = frame_line_address(c.line);
    ASSERT_TRUE(a) << c.line;
    EXPECT_EQ(a->index, c.index) << c.line;
    EXPECT_EQ(a->address, c.address) << c.line;
    EXPECT_EQ(a->value, c.value) << c.line;
  }
  EXPECT_FALSE(frame_line_address("#1  gc_alloc (n=1) at ../../py/gc.c:967"));
  EXPECT_FALSE(frame_line_address("#1  0x0000d898"));
  EXPECT_FALSE(frame_line_address("#1  0x0000d898 at f"));
  EXPECT_FALSE(frame_line_address("#  0x0000d898 in f ()"));
  EXPECT_FALSE(frame_line_address("#99999999999 0x0000d898 in f ()"));
}

// The native tracer's Python frames, exactly as it writes them.
TEST(GdbLines, PythonFrames) {
  auto module = parse_frame_line("#4  [py] <module> at workload.py:29");
  ASSERT_TRUE(module);
  EXPECT_EQ(module->index, 4u);
  EXPECT_TRUE(module->frame.python);
  EXPECT_EQ(module->frame.function, "<module>");
  EXPECT_EQ(module->frame.location, "workload.py:29");
  EXPECT_EQ(module->frame.address, "");
  EXPECT_EQ(module->frame.args, "");

  auto stdin_frame = parse_frame_line("#7  [py] squares at <stdin>:47");
  ASSERT_TRUE(stdin_frame);
  EXPECT_EQ(stdin_frame->index, 7u);
  EXPECT_TRUE(stdin_frame->frame.python);
  EXPECT_EQ(stdin_frame->frame.function, "squares");
  EXPECT_EQ(stdin_frame->frame.location, "<stdin>:47");

  // Unresolved: no location, the reason stays with the function.
  auto unresolved = parse_frame_line("#5  [py] ?? (code_state: optimized out)");
  ASSERT_TRUE(unresolved);
  EXPECT_EQ(unresolved->index, 5u);
  EXPECT_TRUE(unresolved->frame.python);
  EXPECT_EQ(unresolved->frame.function, "?? (code_state: optimized out)");
  EXPECT_EQ(unresolved->frame.location, "");

  // A path, and a file with " at " and ':' in it: the file runs from the first " at " to the
  // last ':'.
  auto flash = parse_python_frame_text("[py] make_counter at /flash/main.py:3");
  ASSERT_TRUE(flash);
  EXPECT_EQ(flash->function, "make_counter");
  EXPECT_EQ(flash->location, "/flash/main.py:3");
  auto odd = parse_python_frame_text("[py] <lambda> at /sd/a at b:c.py:12");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->function, "<lambda>");
  EXPECT_EQ(odd->location, "/sd/a at b:c.py:12");

  // C frames are not Python frames, and neither is a function whose name starts with "[py]".
  auto c = parse_frame_line(
      "#5  0x000055555559360a in mp_execute_bytecode (code_state=0x7fffffffe380, inject_exc=0x0) "
      "at ../../py/vm.c:825");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->frame.python);
  EXPECT_FALSE(parse_python_frame_text("mp_execute_bytecode (code_state=0x1) at vm.c:825"));
  EXPECT_FALSE(parse_python_frame_text("[py]x at y.py:1"));
  auto glued = parse_frame_line("#6  [py]x at y.py:1");
  ASSERT_TRUE(glued);
  EXPECT_FALSE(glued->frame.python);
}

// Malformed Python frames: still Python frames, nothing printed is lost, nothing crashes.
TEST(GdbLines, MalformedPythonFrames) {
  auto bare = parse_frame_line("#4  [py]");
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->frame.python);
  EXPECT_EQ(bare->frame.function, "??");
  EXPECT_EQ(bare->frame.location, "");
  auto spaces = parse_python_frame_text("[py]   \t ");
  ASSERT_TRUE(spaces);
  EXPECT_EQ(spaces->function, "??");
  EXPECT_EQ(spaces->location, "");

  // No line number, an empty one, a line that is not a number: the whole text is the function.
  for (std::string_view text : {"[py] f at /flash/main.py",
                                "[py] f at main.py:", "[py] f at main.py:2x", "[py] f at :12"}) {
    auto f = parse_python_frame_text(text);
    ASSERT_TRUE(f) << text;
    EXPECT_TRUE(f->python);
    EXPECT_EQ(f->function, text.substr(5)) << text;
    EXPECT_EQ(f->location, "") << text;
  }
  // No function: the location is kept, the function unknown.
  auto nameless = parse_python_frame_text("[py]  at main.py:12");
  ASSERT_TRUE(nameless);
  EXPECT_EQ(nameless->function, "??");
  EXPECT_EQ(nameless->location, "main.py:12");
  // Trailing white space (a log that went through Windows) is not part of the line number.
  auto crlf = parse_python_frame_text("[py] f at main.py:12\r");
  ASSERT_TRUE(crlf);
  EXPECT_EQ(crlf->location, "main.py:12");
  // Without a function the name is the rest ("?? (reason)" or whatever was printed).
  auto words = parse_python_frame_text("[py] no frame here");
  ASSERT_TRUE(words);
  EXPECT_EQ(words->function, "no frame here");
  EXPECT_EQ(words->location, "");
}

// The reader's fast paths do not take a Python frame for something else.
TEST(GdbLines, PythonFramesAndTheFastPaths) {
  EXPECT_FALSE(frame_line_address("#4  [py] <module> at workload.py:29"));
  EXPECT_FALSE(frame_line_address("#5  [py] ?? (code_state: optimized out)"));
  EXPECT_FALSE(frame_line_address("#4  [py]"));
  // A Python frame is one line, whatever it ends with: never joined with the next.
  EXPECT_TRUE(frame_line_looks_complete("#4  [py] <module> at workload.py:29"));
  EXPECT_TRUE(frame_line_looks_complete("#4  [py]"));
  EXPECT_TRUE(frame_line_looks_complete("#4  [py] f at /flash/main.py"));
  EXPECT_FALSE(frame_line_looks_complete("#4  0x1 in f (a=1,"));
}

}  // namespace
}  // namespace mpheap::trace::gdb
