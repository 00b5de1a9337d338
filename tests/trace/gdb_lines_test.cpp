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

}  // namespace
}  // namespace mpheap::trace::gdb
