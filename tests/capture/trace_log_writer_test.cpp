// The native tracer's log: what it writes is read back by the trace reader as the same events
// and stacks, in gdb's backtrace style (a caller's address where gdb prints one, none on the
// frames an inlined call sits in), and a log traced without the hook keeps frame #0.
#include "mpheap/capture/trace_log_writer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "capture/process_util.h"
#include "mpheap/io/line_reader.h"
#include "mpheap/trace/gdb_log_reader.h"
#include "mpheap/trace/replay.h"
#include "trace/test_util.h"

namespace mpheap::capture {
namespace {

using target::elf::SourceFrame;

std::vector<SourceFrame> hook_stack() {
  return {
      {0x401136, "gc_log_change", "/src/hooked_heap.c", 20, false},
      // An inlined call (sweep_block inlined into gc_sweep) at one return address.
      {0x4011f2, "sweep_block", "/src/hooked_heap.c", 61, true},
      {0x4011f2, "gc_sweep", "/src/hooked_heap.c", 70, false},
      {0x401230, "gc_collect", "/src/hooked_heap.c", 75, false},
      {0x4012a1, "main", "/src/hooked_heap.c", 110, false},
  };
}

TEST(TraceLogWriter, StopInGdbsBacktraceStyle) {
  const auto frames = hook_stack();
  NativeEvent e;
  e.start_block = 12;
  e.length = 0;
  e.frames = frames;
  e.function = "gc_log_change";
  e.arguments = "start_block=12, length=0";
  std::string text;
  format_stop(e, 8, 5, text);
  EXPECT_EQ(text,
            "\nBreakpoint 1, gc_log_change (start_block=12, length=0) at /src/hooked_heap.c:20\n"
            "#0  gc_log_change (start_block=12, length=0) at /src/hooked_heap.c:20\n"
            "#1  0x00000000004011f2 in sweep_block () at /src/hooked_heap.c:61\n"
            "#2  gc_sweep () at /src/hooked_heap.c:70\n"
            "#3  0x0000000000401230 in gc_collect () at /src/hooked_heap.c:75\n"
            "#4  0x00000000004012a1 in main () at /src/hooked_heap.c:110\n"
            "$5 = 0xc\n"
            "$6 = 0x0\n");
}

// Written to a file and read back: the reader finds the events, their stacks without the hook's
// frame, and the kinds from the callers.
TEST(TraceLogWriter, ReadBackAsTheSameEvents) {
  mpheap::testing::TempDir dir("writer");
  const std::string path = dir.file("log.txt");
  const auto frames = hook_stack();
  {
    auto w = TraceLogWriter::create(path, TraceMode::hook, 4);
    ASSERT_TRUE(w) << w.error().message();
    for (std::uint64_t b : {3u, 9u}) {
      NativeEvent e;
      e.start_block = b;
      e.frames = frames;
      e.function = "gc_log_change";
      ASSERT_TRUE(w->write(e));
    }
    EXPECT_FALSE(std::filesystem::exists(path));  // only whole stops, at commit
    ASSERT_TRUE(w->commit());
  }
  auto input = io::LineReader::open(path);
  ASSERT_TRUE(input);
  trace::StackTable stacks;
  trace::GdbLogReader reader(**input, stacks);
  std::vector<trace::GcEvent> events;
  while (auto e = reader.next()) {
    if (!*e) break;
    events.push_back(**e);
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].start_block, 9u);
  auto ids = stacks.frames_innermost_first(events[0].stack);
  ASSERT_EQ(ids.size(), 4u);  // the hook's own frame is not part of the stack
  EXPECT_EQ(stacks.frame(ids[0]).function, "sweep_block");
  EXPECT_EQ(stacks.frame(ids[0]).location, "/src/hooked_heap.c:61");
  EXPECT_EQ(stacks.frame(ids[1]).function, "gc_sweep");
  EXPECT_EQ(stacks.frame(ids[1]).address, "0x0");  // printed without one, as gdb does
  EXPECT_EQ(stacks.frame(ids[3]).function, "main");
  EXPECT_EQ(trace::kind_from_caller(stacks.frame(ids[1]).function, 0), trace::EventKind::sweep);
}

// Without the hook: the header line, and frame #0 (the collector's function) kept.
TEST(TraceLogWriter, NoHookLogKeepsFrameZero) {
  mpheap::testing::TempDir dir("writer");
  const std::string path = dir.file("nohook.txt");
  const std::vector<SourceFrame> frames = {
      {0x5555555546d0, "gc_alloc", "micropython/py/gc.c", 847, false},
      {0x55555555a625, "m_malloc", "micropython/py/malloc.c", 92, false}};
  {
    auto w = TraceLogWriter::create(path, TraceMode::gc_functions, 8);
    ASSERT_TRUE(w);
    NativeEvent e;
    e.start_block = 40;
    e.length = 2;
    e.frames = frames;
    e.function = "gc_alloc";
    ASSERT_TRUE(w->write(e));
    ASSERT_TRUE(w->commit());
  }
  const std::string text = mpheap::testing::read_file(path);
  EXPECT_TRUE(text.starts_with(trace::kNoHookHeader)) << text;
  auto input = io::LineReader::open(path);
  ASSERT_TRUE(input);
  trace::StackTable stacks;
  trace::GdbLogReader reader(**input, stacks);
  auto e = reader.next();
  ASSERT_TRUE(e && *e);
  EXPECT_EQ((*e)->start_block, 40u);
  EXPECT_EQ((*e)->length, 2u);
  auto ids = stacks.frames_innermost_first((*e)->stack);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(stacks.frame(ids[0]).function, "gc_alloc");
  EXPECT_EQ(stacks.frame(ids[1]).address, "0x000055555555a625");
  // Without the header the same stops are not events of a hook: the reader says so.
  const std::string headless = text.substr(text.find('\n') + 1);
  auto plain = io::LineReader::from_memory(headless, "headless");
  trace::StackTable stacks2;
  trace::GdbLogReader reader2(*plain, stacks2);
  auto none = reader2.next();
  EXPECT_FALSE(none) << "a stop in gc_alloc was read as a hook stop";
}

// No event: nothing is left behind, and commit says why.
TEST(TraceLogWriter, EmptyLogIsAnError) {
  mpheap::testing::TempDir dir("writer");
  const std::string path = dir.file("empty.txt");
  auto w = TraceLogWriter::create(path, TraceMode::hook, 4);
  ASSERT_TRUE(w);
  auto c = w->commit();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().what.find("no event"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".part"));
}

}  // namespace
}  // namespace mpheap::capture
