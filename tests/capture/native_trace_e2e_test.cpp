// The native tracer (`mpheap capture trace`, engine native) end to end on real programs:
// - the hooked test program under gdbserver: the native log and gdb's log of the same program
//   give the same events with the same call stacks, frame for frame (function, file, line);
// - the unmodified MicroPython 1.28 unix build under gdbserver, traced without the hook while it
//   runs the fixture's workload: at every micropython.mem_info(1) (gc_dump_alloc_table), at
//   mp_deinit and at the end, the blocks the replay of the log believes live equal the
//   allocation table read from RAM at that same stop, head for head and length for length;
// - the same with the stock 1.28 micro:bit ELF in QEMU, the workload sent over the raw REPL;
// - bad input: one message each, non-zero exit, no log.
// Without gdbserver or QEMU the tests skip, unless MPHEAP_REQUIRE_E2E=1 (CI), where they fail.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "capture/process_util.h"
#include "capture/qemu_boot.h"
#include "cli/cli_runner.h"
#include "mpheap/capture/link.h"
#include "mpheap/capture/native_trace.h"
#include "mpheap/capture/raw_repl.h"
#include "mpheap/io/line_reader.h"
#include "mpheap/io/snapshot_sequence.h"
#include "mpheap/target/from_elf.h"
#include "mpheap/trace/gdb_log_reader.h"
#include "mpheap/trace/replay.h"
#include "trace/test_util.h"

namespace mpheap::capture {
namespace {

using namespace std::chrono_literals;
using mpheap::testing::ChildProcess;
using mpheap::testing::data_path;
using mpheap::testing::TempDir;

const std::string kProgram = std::string(MPHEAP_CAPTURE_PROGRAMS) + "/hooked_heap.c";

bool e2e_required() {
  const char* v = std::getenv("MPHEAP_REQUIRE_E2E");
  return v != nullptr && std::string(v) == "1";
}

bool compile(const std::string& source, const std::string& out, const std::string& flags = "") {
  return mpheap::testing::run_shell(
             fmt::format("gcc -g -O0 {} -o '{}' '{}' 2>/dev/null", flags, out, source)) == 0;
}

// One event of a log as `mpheap trace` reads it: the values and the stack as text.
struct LoggedEvent {
  std::uint64_t start_block = 0, length = 0;
  std::vector<std::string> frames;  // "function file:line", innermost first
  bool operator==(const LoggedEvent&) const = default;
};

// Hands every event of a log to `each`, as `mpheap trace` reads it; the repeats it dropped.
std::uint64_t for_each_logged_event(
    const std::string& path,
    const std::function<void(const trace::GcEvent&, const trace::StackTable&)>& each) {
  auto input = io::LineReader::open(path);
  EXPECT_TRUE(input) << input.error().message();
  if (!input) return 0;
  trace::StackTable stacks;
  trace::GdbLogReader reader(**input, stacks);
  for (;;) {
    auto e = reader.next();
    EXPECT_TRUE(e) << e.error().message();
    if (!e || !*e) break;
    each(**e, stacks);
  }
  return reader.stats().duplicates;
}

std::vector<LoggedEvent> read_log(const std::string& path, std::uint64_t* duplicates = nullptr) {
  std::vector<LoggedEvent> events;
  const std::uint64_t dropped =
      for_each_logged_event(path, [&](const trace::GcEvent& e, const trace::StackTable& stacks) {
        LoggedEvent le{e.start_block, e.length, {}};
        for (trace::FrameId f : stacks.frames_innermost_first(e.stack))
          le.frames.push_back(stacks.frame(f).function + " " + stacks.frame(f).location);
        events.push_back(std::move(le));
      });
  if (duplicates != nullptr) *duplicates = dropped;
  return events;
}

// A heap copy of `--heap-at`: the number of events before it and the allocation table's heads.
struct Checkpoint {
  std::string trigger;
  std::uint64_t events = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> heads;  // start block -> blocks
};

// Reads the copies: mp_state_ctx (where the target's DWARF says the first area's fields are)
// gives the allocation table's address and length, the other part holds the table.
std::vector<Checkpoint> read_checkpoints(const std::string& seq, const std::string& elf,
                                         std::uint64_t bias) {
  std::vector<Checkpoint> out;
  auto t = target::read_elf_target(elf);
  EXPECT_TRUE(t) << t.error().message();
  if (!t) return out;
  auto idx = io::index_snapshot_sequence_file(seq);
  EXPECT_TRUE(idx) << idx.error().message();
  if (!idx) return out;
  const std::string bytes = mpheap::testing::read_file(seq);
  const std::uint64_t area = *t->mp_state_ctx + *t->state.mem_area + bias;
  auto word_at = [&](const std::vector<io::SnapshotEntry>& parts,
                     std::uint64_t address) -> std::optional<std::uint64_t> {
    for (const auto& p : parts)
      if (address >= p.header.start && address + t->word_size <= p.header.end) {
        std::uint64_t v = 0;
        std::memcpy(&v, bytes.data() + p.data_offset + (address - p.header.start), t->word_size);
        return v;
      }
    return std::nullopt;
  };
  for (std::size_t i = 0; i < idx->size();) {
    const io::SnapshotHeader& first = (*idx)[i].header;
    std::vector<io::SnapshotEntry> parts(
        idx->begin() + static_cast<std::ptrdiff_t>(i),
        idx->begin() + static_cast<std::ptrdiff_t>(i + first.parts));
    i += first.parts;
    Checkpoint c;
    c.trigger = first.trigger;
    EXPECT_TRUE(first.label.starts_with("events=")) << first.label;
    c.events = std::stoull(first.label.substr(7));
    auto table = word_at(parts, area + *t->state.area.gc_alloc_table_start);
    auto table_len = word_at(parts, area + *t->state.area.gc_alloc_table_byte_len);
    EXPECT_TRUE(table && table_len);
    if (!table || !table_len) continue;
    for (const auto& p : parts)
      if (*table >= p.header.start && *table + *table_len <= p.header.end) {
        const auto* at = reinterpret_cast<const std::uint8_t*>(bytes.data() + p.data_offset +
                                                               (*table - p.header.start));
        c.heads = allocation_table_heads({at, *table_len}, *table_len * 4);
      }
    EXPECT_FALSE(c.heads.empty()) << "no allocation table in checkpoint " << c.trigger;
    out.push_back(std::move(c));
  }
  return out;
}

// The ground truth: replaying the log up to each checkpoint gives exactly the table's heads.
void expect_replay_equals_tables(const std::string& log, const std::vector<Checkpoint>& cps,
                                 std::size_t at_least) {
  ASSERT_GE(cps.size(), at_least);
  auto input = io::LineReader::open(log);
  ASSERT_TRUE(input) << input.error().message();
  trace::StackTable stacks;
  trace::GdbLogReader reader(**input, stacks);
  trace::Replay replay(stacks);
  std::vector<trace::EndedAllocation> ended;
  std::uint64_t t = 0;
  for (const Checkpoint& c : cps) {
    SCOPED_TRACE(fmt::format("checkpoint {} after {} events", c.trigger, c.events));
    while (t < c.events) {
      auto e = reader.next();
      ASSERT_TRUE(e) << e.error().message();
      ASSERT_TRUE(*e) << "the log ends before event " << c.events;
      replay.apply(**e, t++, ended);
    }
    std::vector<std::pair<std::uint64_t, std::uint64_t>> live;
    for (const auto& [start, a] : replay.live()) live.emplace_back(start, a.size);
    EXPECT_EQ(live.size(), c.heads.size());
    std::size_t shown = 0;
    for (std::size_t i = 0; i < std::max(live.size(), c.heads.size()) && shown < 10; ++i) {
      auto l = i < live.size() ? live[i] : std::pair<std::uint64_t, std::uint64_t>{};
      auto h = i < c.heads.size() ? c.heads[i] : std::pair<std::uint64_t, std::uint64_t>{};
      if (l != h) {
        ADD_FAILURE() << fmt::format("replay has block {} ({} blocks), the table has {} ({})",
                                     l.first, l.second, h.first, h.second);
        ++shown;
      }
    }
    // Nothing was patched up by the replay: no allocation over a live one, no free of nothing.
    EXPECT_EQ(replay.unlogged(), 0u);
    EXPECT_EQ(replay.unmatched(), 0u);
  }
  EXPECT_EQ(reader.stats().duplicates, 0u);
}

// One allocation of a log with Python frames: the C functions of its stack and its Python frames,
// innermost first.
struct PythonFrameText {
  std::string function, file;
  int line = 0;
  bool operator==(const PythonFrameText&) const = default;
};
struct PythonAllocation {
  std::vector<std::string> c_functions;
  std::vector<PythonFrameText> python;
  [[nodiscard]] bool calls(std::string_view f) const {
    return std::find(c_functions.begin(), c_functions.end(), f) != c_functions.end();
  }
};

std::vector<PythonAllocation> python_allocations(const std::string& log) {
  std::vector<PythonAllocation> out;
  for_each_logged_event(log, [&](const trace::GcEvent& e, const trace::StackTable& stacks) {
    PythonAllocation a;
    for (trace::FrameId id : stacks.frames_innermost_first(e.stack)) {
      const trace::Frame& f = stacks.frame(id);
      if (!f.python) {
        a.c_functions.push_back(f.function);
        continue;
      }
      const auto colon = f.location.rfind(':');
      EXPECT_NE(colon, std::string::npos) << "unresolved Python frame: " << f.function;
      if (colon == std::string::npos) continue;
      a.python.push_back(
          {f.function, f.location.substr(0, colon), std::stoi(f.location.substr(colon + 1))});
    }
    if (!a.c_functions.empty() && a.c_functions[0] == "gc_alloc") out.push_back(std::move(a));
  });
  return out;
}

// What tests/data/stock-v1.28/workload.py says, run `runs` times, with `file` as its name: the
// allocations of the lines that build SPRITES, CONFIG, make_counter's `count` and GEN, and the
// top Python allocation sites (the churn loop's lines, per execution counts from the source).
void expect_workload_python_frames(const std::string& log, const std::string& file, int runs) {
  const auto allocations = python_allocations(log);
  auto at = [&](const std::string& function, int line) {
    return PythonFrameText{function, file, line};
  };
  auto where = [](const PythonAllocation& a) {
    return a.python.empty()
               ? std::string("no Python frame")
               : fmt::format("{} {}:{}", a.python[0].function, a.python[0].file, a.python[0].line);
  };
  int instances = 0, config = 0, count = 0, generators = 0, floats = 0;
  std::map<int, int> by_module_line;  // allocations whose innermost Python frame is <module>
  for (const PythonAllocation& a : allocations) {
    if (!a.python.empty() && a.python[0].function == "<module>" && a.python[0].file == file)
      ++by_module_line[a.python[0].line];
    // The three Sprite instances: `SPRITES = [Sprite("ship", 1, 2), ...]` at line 29.
    if (a.calls("mp_obj_new_instance")) {
      ++instances;
      EXPECT_EQ(a.python, std::vector<PythonFrameText>{at("<module>", 29)}) << where(a);
    }
    // CONFIG's dict: `CONFIG = {"alpha": 1, ...}` at line 10.
    if (a.calls("mp_obj_new_dict") && !a.python.empty() && a.python[0] == at("<module>", 10))
      ++config;
    // `count = [start]` in make_counter (line 34), called by `COUNTER = make_counter(10)` (43).
    if (a.calls("mp_obj_new_list") && !a.python.empty() && a.python[0].function == "make_counter") {
      ++count;
      EXPECT_EQ(a.python,
                (std::vector<PythonFrameText>{at("make_counter", 34), at("<module>", 43)}));
    }
    // The generator object: `GEN = squares(5)` at line 52.
    if (a.calls("gen_wrap_call") && a.python == std::vector<PythonFrameText>{at("<module>", 52)})
      ++generators;
    // `d[j] = j * 1.5` (line 74) makes a float object each time: 9 rounds of 6.
    if (a.calls("mp_obj_new_float") && a.python == std::vector<PythonFrameText>{at("<module>", 74)})
      ++floats;
  }
  EXPECT_EQ(instances, 3 * runs);
  EXPECT_GE(config, runs);     // the dict object (its table comes from the same line)
  EXPECT_EQ(count, 2 * runs);  // the list and its items
  EXPECT_EQ(generators, runs);
  EXPECT_EQ(floats, 54 * runs);
  // The top Python allocation sites of the run. `tmp.append([j] * 3)` (line 71) runs 9 x 8 times
  // and makes two lists each time, each an object and its item array: 4 x 72 = 288.
  // `tmp.append("item %d-%d" % (rnd, j))` (line 70) runs as often and makes at least the string and
  // its text: >= 144. Line 74: the 54 floats plus the dict's table as it grows.
  std::vector<std::pair<int, int>> top;  // (allocations, line)
  for (const auto& [line, n] : by_module_line) top.emplace_back(n, line);
  std::sort(top.rbegin(), top.rend());
  ASSERT_GE(top.size(), 3u);
  EXPECT_EQ(top[0], std::make_pair(288 * runs, 71));
  EXPECT_EQ(top[1].second, 70);
  EXPECT_GE(top[1].first, 144 * runs);
  EXPECT_EQ(top[2].second, 74);
  EXPECT_GE(top[2].first, 54 * runs);
  // `mpheap trace --python-only --sites 3` prints the same table.
  auto shown =
      mpheap::testing::run_mpheap(fmt::format("trace {} --python-only --sites 3 --no-tree", log));
  EXPECT_EQ(shown.status, 0) << shown.out;
  std::vector<std::string> rows;
  const std::string title = "allocation sites of the whole run: 3 of ";
  const auto table = shown.out.find(title);
  ASSERT_NE(table, std::string::npos) << shown.out;
  std::istringstream lines(shown.out.substr(table));
  std::string line;
  std::getline(lines, line);  // the title
  std::getline(lines, line);  // the column names
  while (rows.size() < 3 && std::getline(lines, line)) rows.push_back(line);
  ASSERT_EQ(rows.size(), 3u) << shown.out;
  for (std::size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(rows[i]);
    std::istringstream row(rows[i]);
    std::uint64_t listed = 0;
    row >> listed;
    EXPECT_EQ(listed, static_cast<std::uint64_t>(top[i].first));
    EXPECT_NE(rows[i].find(fmt::format(" {}:{} <module> [py]", file, top[i].second)),
              std::string::npos);
  }
}

class NativeTrace : public ::testing::Test {
 protected:
  void SetUp() override {
    gdbserver_ = mpheap::testing::which("gdbserver");
    gdb_ = mpheap::testing::which("gdb-multiarch");
    if (gdb_.empty()) gdb_ = mpheap::testing::which("gdb");
    if (gdbserver_.empty() || gdb_.empty()) {
      if (e2e_required()) FAIL() << "gdbserver or gdb is not installed and MPHEAP_REQUIRE_E2E=1";
      GTEST_SKIP() << "gdbserver or gdb is not installed";
    }
  }

  int serve(std::unique_ptr<ChildProcess>& server, const std::vector<std::string>& program) {
    const int port = mpheap::testing::free_port();
    std::vector<std::string> argv = {gdbserver_, fmt::format("127.0.0.1:{}", port)};
    argv.insert(argv.end(), program.begin(), program.end());
    server = std::make_unique<ChildProcess>(argv, dir_.file("gdbserver.txt"));
    EXPECT_TRUE(mpheap::testing::wait_for_port(port, 5s));
    std::this_thread::sleep_for(100ms);
    return port;
  }

  TempDir dir_{"native"};
  std::string gdbserver_, gdb_;
};

// The hooked program, once natively and once through gdb: the same events, the same stacks.
TEST_F(NativeTrace, SameEventsAndStacksAsGdb) {
  const std::string program = dir_.file("hooked");
  ASSERT_TRUE(compile(kProgram, program));
  std::map<std::string, std::vector<LoggedEvent>> logs;
  for (const char* engine : {"native", "gdb"}) {
    SCOPED_TRACE(engine);
    std::unique_ptr<ChildProcess> server;
    const int port = serve(server, {program});
    const std::string log = dir_.file(fmt::format("{}.txt", engine));
    auto run = mpheap::testing::run_mpheap(
        fmt::format("capture trace --engine {} --elf {} --remote 127.0.0.1:{} --until "
                    "program_done -o {}",
                    engine, program, port, log),
        true);
    ASSERT_EQ(run.status, 0) << run.out;
    EXPECT_NE(run.out.find("20 events logged"), std::string::npos) << run.out;
    logs[engine] = read_log(log);
    EXPECT_EQ(server->wait(10s), 0);
  }
  const auto& native = logs["native"];
  const auto& gdb = logs["gdb"];
  ASSERT_EQ(native.size(), 20u);
  ASSERT_EQ(gdb.size(), 20u);
  for (std::size_t i = 0; i < native.size(); ++i) {
    SCOPED_TRACE(fmt::format("event {}", i));
    EXPECT_EQ(native[i].start_block, gdb[i].start_block);
    EXPECT_EQ(native[i].length, gdb[i].length);
    EXPECT_EQ(native[i].frames, gdb[i].frames);
  }
  // A known stack: the realloc of grow_b (event 9, after 7 allocations and 2 frees) from main
  // through m_realloc.
  ASSERT_GE(native[9].frames.size(), 4u);
  EXPECT_TRUE(native[9].frames[0].starts_with("gc_realloc ")) << native[9].frames[0];
  EXPECT_TRUE(native[9].frames[1].starts_with("m_realloc ")) << native[9].frames[1];
  EXPECT_TRUE(native[9].frames[2].starts_with("grow_b ")) << native[9].frames[2];
  EXPECT_TRUE(native[9].frames[3].starts_with("main ")) << native[9].frames[3];
}

// The stock unix build with no hook: the replay equals the allocation table at every checkpoint.
// With a 16 KiB heap the workload also fills the heap, so gc_alloc collects: the sweep's events
// come before the allocation that asked for it, as a hooked build logs them.
TEST_F(NativeTrace, StockUnixWithoutHookReplayEqualsTheAllocationTable) {
  const std::string elf = data_path("stock-v1.28/unix-x64/micropython");
  const std::string workload = data_path("stock-v1.28/workload.py");
  for (const char* heap : {"64K", "16K"}) {
    SCOPED_TRACE(heap);
    std::unique_ptr<ChildProcess> server;
    const int port = serve(server, {elf, "-X", fmt::format("heapsize={}", heap), workload});
    const std::string log = dir_.file(fmt::format("stock_{}.txt", heap));
    const std::string heaps = dir_.file(fmt::format("stock_{}.heaps", heap));
    auto run = mpheap::testing::run_mpheap(
        fmt::format("capture trace --elf {} --remote 127.0.0.1:{} --heap-at gc_dump_alloc_table "
                    "--heap-at mp_deinit --heap-output {} -o {}",
                    elf, port, heaps, log),
        true);
    ASSERT_EQ(run.status, 0) << run.out;
    EXPECT_NE(run.out.find("no gc_log_change in this ELF: breaking on the collector's functions"),
              std::string::npos)
        << run.out;
    EXPECT_NE(run.out.find("ended: the program ended (exited with status 0)"), std::string::npos)
        << run.out;
    auto cps = read_checkpoints(heaps, elf, 0x555555554000);
    // mem_info(1) twice, mp_deinit once.
    ASSERT_EQ(cps.size(), 3u);
    EXPECT_EQ(cps[0].trigger, "on:gc_dump_alloc_table");
    EXPECT_EQ(cps[2].trigger, "on:mp_deinit");
    expect_replay_equals_tables(log, cps, 3);
    // Every kind of event was seen, the sweep among them.
    auto summary = mpheap::testing::run_mpheap(fmt::format("trace {} -q --summary-json -", log));
    ASSERT_EQ(summary.status, 0) << summary.out;
    auto j = nlohmann::json::parse(summary.out);
    EXPECT_GT(j["kinds"]["alloc"].get<int>(), 500);
    EXPECT_GT(j["kinds"]["sweep"].get<int>(), 100);
    EXPECT_GT(j["kinds"]["realloc"].get<int>(), 0);
    EXPECT_GT(j["kinds"]["free"].get<int>(), 0);
    EXPECT_GE(j["collections"].get<int>(), 4);  // the workload's four gc.collect()
    EXPECT_EQ(j["classified_by_caller"], j["events"]);
    EXPECT_NE(j["end_reason"].get<std::string>().find("the program ended"), std::string::npos)
        << j["end_reason"];
    EXPECT_EQ(server->wait(10s), 0);
    // Python frames: the workload's lines, named by the path it was run as.
    if (std::string(heap) == "64K") {
      EXPECT_NE(run.out.find("Python frames: "), std::string::npos) << run.out;
      EXPECT_NE(run.out.find(", 0 not resolved"), std::string::npos) << run.out;
      expect_workload_python_frames(log, workload, 1);
    }
    if (std::string(heap) != "16K") continue;
    // Collections inside gc_alloc: each sweep run is followed by the allocation that asked for
    // it, with the same callers.
    const auto events = read_log(log);
    int inside = 0;
    for (std::size_t i = 0; i + 1 < events.size(); ++i) {
      const auto& f = events[i].frames;
      if (f.empty() || !f[0].starts_with("gc_collect_end ") ||
          events[i + 1].frames[0].starts_with("gc_collect_end "))
        continue;
      auto in_alloc = std::find_if(f.begin(), f.end(),
                                   [](const std::string& s) { return s.starts_with("gc_alloc "); });
      if (in_alloc == f.end()) continue;
      ++inside;
      const auto& next = events[i + 1].frames;
      ASSERT_FALSE(next.empty());
      EXPECT_TRUE(next[0].starts_with("gc_alloc ")) << next[0];
      EXPECT_EQ(std::vector<std::string>(next.begin() + 1, next.end()),
                std::vector<std::string>(in_alloc + 1, f.end()));
      EXPECT_GT(events[i + 1].length, 0u);
    }
    EXPECT_GE(inside, 1) << "no collection inside gc_alloc with a 16 KiB heap";
  }
}

// A --heap-at function the program never calls: the trace is fine, no heap file, and it says so.
TEST_F(NativeTrace, HeapAtAFunctionNeverReached) {
  const std::string elf = data_path("stock-v1.28/unix-x64/micropython");
  std::unique_ptr<ChildProcess> server;
  const int port = serve(server, {elf, "-X", "heapsize=64K", data_path("stock-v1.28/workload.py")});
  const std::string log = dir_.file("never.txt");
  auto run = mpheap::testing::run_mpheap(
      fmt::format("capture trace --elf {} --remote 127.0.0.1:{} --heap-at mp_raw_code_load_file "
                  "-o {}",
                  elf, port, log),
      true);
  EXPECT_EQ(run.status, 0) << run.out;
  EXPECT_NE(run.out.find("heap at mp_raw_code_load_file: never reached, so no snapshot"),
            std::string::npos)
      << run.out;
  EXPECT_TRUE(std::filesystem::exists(log));
  EXPECT_FALSE(std::filesystem::exists(log + ".heaps"));
  EXPECT_FALSE(std::filesystem::exists(log + ".heaps.part"));
  EXPECT_EQ(server->wait(10s), 0);
}

// The link lost in the middle: the log keeps every whole stop before it, and the exit is 1.
TEST_F(NativeTrace, LostConnectionKeepsTheLog) {
  const std::string program = dir_.file("hooked");
  ASSERT_TRUE(compile(kProgram, program));
  std::unique_ptr<ChildProcess> server;
  const int port = serve(server, {program, "loop"});
  const std::string log = dir_.file("lost.txt");
  ChildProcess capture({MPHEAP_CLI, "capture", "trace", "--elf", program, "--remote",
                        fmt::format("127.0.0.1:{}", port), "--no-until", "-o", log},
                       dir_.file("capture_out.txt"));
  // Some events past the fixed pattern (the part file grows), then gdbserver goes away.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  auto written = [&] {
    std::error_code ec;
    const auto size = std::filesystem::file_size(log + ".part", ec);
    return ec ? 0 : size;
  };
  while (std::chrono::steady_clock::now() < deadline && written() < 70000)
    std::this_thread::sleep_for(50ms);
  server->kill();
  EXPECT_EQ(capture.wait(30s), 1);
  const std::string said = mpheap::testing::read_file(dir_.file("capture_out.txt"));
  EXPECT_NE(said.find("(the log keeps the "), std::string::npos) << said;
  ASSERT_TRUE(std::filesystem::exists(log)) << said;
  EXPECT_FALSE(std::filesystem::exists(log + ".part"));
  auto summary = mpheap::testing::run_mpheap(fmt::format("trace {} -q --summary-json -", log));
  ASSERT_EQ(summary.status, 0) << summary.out;
  auto j = nlohmann::json::parse(summary.out);
  EXPECT_GT(j["events"].get<int>(), 100);
  EXPECT_EQ(j["incomplete_last_event"], false);
  // gdbserver's inferior outlives it: end it too.
  std::smatch pid;
  std::string served = mpheap::testing::read_file(dir_.file("gdbserver.txt"));
  if (std::regex_search(served, pid, std::regex("pid = (\\d+)")))
    ::kill(static_cast<pid_t>(std::stol(pid[1].str())), SIGKILL);
}

// Bad input: one message each, a non-zero exit, no log (and no part file) left behind.
TEST_F(NativeTrace, BadInputOneMessageNothingWritten) {
  const std::string log = dir_.file("bad.txt");
  // `lines`: 2 when the capture had started (its first line says how it traces).
  auto one_message = [&](const mpheap::testing::CliRun& run, const std::string& says,
                         int lines = 1) {
    EXPECT_EQ(run.status, 1) << run.out;
    EXPECT_NE(run.out.find(says), std::string::npos) << run.out;
    EXPECT_EQ(std::count(run.out.begin(), run.out.end(), '\n'), lines) << run.out;
    EXPECT_FALSE(std::filesystem::exists(log));
    EXPECT_FALSE(std::filesystem::exists(log + ".part"));
  };
  // An ELF with neither the hook nor the collector's functions.
  ASSERT_TRUE(compile(std::string(MPHEAP_CAPTURE_PROGRAMS) + "/no_hook.c", dir_.file("no_gc")));
  one_message(
      mpheap::testing::run_mpheap(
          fmt::format("capture trace --elf {} --remote :1 -o {}", dir_.file("no_gc"), log), true),
      "has neither the GC hook nor the collector's functions (no gc_log_change or gc_alloc "
      "symbol)");
  // Collector functions of another signature.
  ASSERT_TRUE(compile(std::string(MPHEAP_CAPTURE_PROGRAMS) + "/other_gc.c", dir_.file("other")));
  one_message(
      mpheap::testing::run_mpheap(
          fmt::format("capture trace --elf {} --remote :1 -o {}", dir_.file("other"), log), true),
      "does not declare 2 parameters in the DWARF: mpheap knows `void *gc_alloc(size_t "
      "n_bytes, unsigned int alloc_flags)`");
  // The hook without line information.
  ASSERT_EQ(mpheap::testing::run_shell(fmt::format("gcc -g0 -O0 -o '{}' '{}' 2>/dev/null",
                                                   dir_.file("no_lines"), kProgram)),
            0);
  one_message(mpheap::testing::run_mpheap(fmt::format("capture trace --elf {} --remote :1 -o {}",
                                                      dir_.file("no_lines"), log),
                                          true),
              "has no line table");
  // No gdb server there.
  ASSERT_TRUE(compile(kProgram, dir_.file("hooked")));
  one_message(
      mpheap::testing::run_mpheap(
          fmt::format("capture trace --elf {} --remote :1 -o {}", dir_.file("hooked"), log), true),
      "localhost:1: cannot connect");
  // A server that accepts the connection and never answers.
  int port = 0;
  const int silent = mpheap::testing::listen_on_loopback(port);
  ASSERT_GE(silent, 0);
  one_message(mpheap::testing::run_mpheap(
                  fmt::format("capture trace --elf {} --remote 127.0.0.1:{} --timeout 500 -o {}",
                              dir_.file("hooked"), port, log),
                  true),
              "within 500 ms");
  ::close(silent);
  // An ELF that is not the running program: the same source built with -O2.
  ASSERT_TRUE(compile(kProgram, dir_.file("hooked_O2"), "-O2"));
  {
    std::unique_ptr<ChildProcess> server;
    const int p = serve(server, {dir_.file("hooked")});
    one_message(mpheap::testing::run_mpheap(
                    fmt::format("capture trace --elf {} --remote 127.0.0.1:{} -o {}",
                                dir_.file("hooked_O2"), p, log),
                    true),
                "the running firmware is not this ELF: at gc_log_change (0x");
    server->kill();
  }
  {
    // The gdb engine checks the same before it runs gdb.
    std::unique_ptr<ChildProcess> server;
    const int p = serve(server, {dir_.file("hooked")});
    one_message(mpheap::testing::run_mpheap(
                    fmt::format("capture trace --engine gdb --elf {} --remote 127.0.0.1:{} -o {}",
                                dir_.file("hooked_O2"), p, log),
                    true),
                "the running firmware is not this ELF: at gc_log_change (0x");
    server->kill();
  }
  // A target that never stops: the log is not written (no event), one message.
  {
    std::unique_ptr<ChildProcess> server;
    const int p = serve(server, {dir_.file("hooked"), "idle"});
    one_message(mpheap::testing::run_mpheap(
                    fmt::format("capture trace --elf {} --remote 127.0.0.1:{} --idle-timeout 2 "
                                "-o {}",
                                dir_.file("hooked"), p, log),
                    true),
                "the target did not stop for 2 s (after 0 events)", 2);
    server->kill();
  }
}

// The stock 1.28 micro:bit ELF in QEMU, traced from reset without the hook while the workload
// runs over the raw REPL; QEMU's gdbstub repeats a stop now and then (dropped by the tracer).
TEST(NativeTraceQemu, StockMicrobitWithoutHookReplayEqualsTheAllocationTable) {
  const std::string qemu = mpheap::testing::which("qemu-system-arm");
  if (qemu.empty()) {
    if (e2e_required()) FAIL() << "qemu-system-arm is not installed and MPHEAP_REQUIRE_E2E=1";
    GTEST_SKIP() << "qemu-system-arm is not installed";
  }
  const std::string elf = data_path("stock-v1.28/qemu-microbit/firmware.elf");
  TempDir dir("native-qemu");
  const int uart_port = mpheap::testing::free_port();
  int gdb_port = mpheap::testing::free_port();
  while (gdb_port == uart_port) gdb_port = mpheap::testing::free_port();
  std::unique_ptr<ChildProcess> vm;
  ASSERT_NO_FATAL_FAILURE(
      mpheap::testing::boot(vm, qemu, mpheap::testing::stock_microbit(elf), uart_port, dir,
                            {"-gdb", fmt::format("tcp:127.0.0.1:{}", gdb_port), "-S"}));
  const std::string log = dir.file("microbit.txt");
  const std::string heaps = dir.file("microbit.heaps");
  ChildProcess capture({MPHEAP_CLI, "capture", "trace", "--elf", elf, "--remote",
                        fmt::format("127.0.0.1:{}", gdb_port), "--no-until", "--heap-at",
                        "gc_dump_alloc_table", "--heap-output", heaps, "-o", log},
                       dir.file("capture.txt"));
  const std::string workload = mpheap::testing::read_file(data_path("stock-v1.28/workload.py"));
  std::string output;
  {
    auto link = Link::open(fmt::format("tcp:127.0.0.1:{}", uart_port), 115200, 10000);
    ASSERT_TRUE(link) << link.error().message();
    RawRepl repl(**link);
    auto entered = repl.enter(60000);
    ASSERT_TRUE(entered) << entered.error().message() << "\n"
                         << mpheap::testing::read_file(dir.file("capture.txt"));
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto r = repl.exec(workload, 120000);
      if (r && r->errors.empty() && r->output.find("=== workload done ===") != std::string::npos) {
        output = r->output;
        break;
      }
      (void)repl.recover();
    }
    repl.leave();
  }
  EXPECT_NE(output.find("=== workload done ==="), std::string::npos);
  capture.signal(SIGINT);
  const std::string said_file = dir.file("capture.txt");
  EXPECT_EQ(capture.wait(60s), 0) << mpheap::testing::read_file(said_file);
  const std::string said = mpheap::testing::read_file(said_file);
  fmt::print("{}", said);
  EXPECT_NE(said.find("no gc_log_change in this ELF"), std::string::npos) << said;
  // Two mem_info(1) per run of the workload, and the heap at the end.
  auto cps = read_checkpoints(heaps, elf, 0);
  ASSERT_GE(cps.size(), 3u);
  EXPECT_EQ(cps.back().trigger, "on:end");
  expect_replay_equals_tables(log, cps, 3);
  // Python frames: the workload sent over the raw REPL is `<stdin>` (a failed attempt that was
  // sent again counts once more: two mem_info(1) checkpoints per run).
  EXPECT_NE(said.find(", 0 not resolved"), std::string::npos) << said;
  expect_workload_python_frames(log, "<stdin>", static_cast<int>((cps.size() - 1) / 2));
}

// Attached to a board that already runs (no -S: the REPL is up, its heap in use). What was live
// before is counted, not logged; everything the log says is live is live in the table, with its
// length, at every checkpoint.
TEST(NativeTraceQemu, AttachedToARunningBoard) {
  const std::string qemu = mpheap::testing::which("qemu-system-arm");
  if (qemu.empty()) {
    if (e2e_required()) FAIL() << "qemu-system-arm is not installed and MPHEAP_REQUIRE_E2E=1";
    GTEST_SKIP() << "qemu-system-arm is not installed";
  }
  const std::string elf = data_path("stock-v1.28/qemu-microbit/firmware.elf");
  TempDir dir("native-qemu-attach");
  const int uart_port = mpheap::testing::free_port();
  int gdb_port = mpheap::testing::free_port();
  while (gdb_port == uart_port) gdb_port = mpheap::testing::free_port();
  std::unique_ptr<ChildProcess> vm;
  ASSERT_NO_FATAL_FAILURE(
      mpheap::testing::boot(vm, qemu, mpheap::testing::stock_microbit(elf), uart_port, dir,
                            {"-gdb", fmt::format("tcp:127.0.0.1:{}", gdb_port)}));
  auto link = Link::open(fmt::format("tcp:127.0.0.1:{}", uart_port), 115200, 10000);
  ASSERT_TRUE(link) << link.error().message();
  RawRepl repl(**link);
  ASSERT_TRUE(repl.enter(20000));  // the board is up and its REPL has allocated
  const std::string log = dir.file("attached.txt");
  const std::string heaps = dir.file("attached.heaps");
  ChildProcess capture({MPHEAP_CLI, "capture", "trace", "--elf", elf, "--remote",
                        fmt::format("127.0.0.1:{}", gdb_port), "--no-until", "--heap-at",
                        "gc_dump_alloc_table", "--heap-output", heaps, "-o", log},
                       dir.file("capture.txt"));
  // The workload only once the tracer holds the board: it has connected (QEMU halts the board
  // for a debugger) when it says how it traces; the UART keeps what is sent meanwhile.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline &&
         mpheap::testing::read_file(dir.file("capture.txt")).find("breaking on the collector") ==
             std::string::npos)
    std::this_thread::sleep_for(50ms);
  ASSERT_NE(mpheap::testing::read_file(dir.file("capture.txt")).find("breaking on the collector"),
            std::string::npos)
      << mpheap::testing::read_file(dir.file("capture.txt"));
  const std::string workload = mpheap::testing::read_file(data_path("stock-v1.28/workload.py"));
  bool done = false;
  for (int attempt = 0; attempt < 3 && !done; ++attempt) {
    auto r = repl.exec(workload, 120000);
    done = r && r->errors.empty() && r->output.find("=== workload done ===") != std::string::npos;
    if (!done) (void)repl.recover();
  }
  repl.leave();
  EXPECT_TRUE(done);
  capture.signal(SIGINT);
  EXPECT_EQ(capture.wait(60s), 0) << mpheap::testing::read_file(dir.file("capture.txt"));
  const std::string said = mpheap::testing::read_file(dir.file("capture.txt"));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(said, m,
                                std::regex("note: (\\d+) allocation\\(s\\) were live "
                                           "before the capture started")))
      << said;
  EXPECT_GT(std::stoi(m[1].str()), 0);
  EXPECT_EQ(said.find("warning:"), std::string::npos) << said;
  auto cps = read_checkpoints(heaps, elf, 0);
  ASSERT_GE(cps.size(), 3u);
  auto input = io::LineReader::open(log);
  ASSERT_TRUE(input);
  trace::StackTable stacks;
  trace::GdbLogReader reader(**input, stacks);
  trace::Replay replay(stacks);
  std::vector<trace::EndedAllocation> ended;
  std::uint64_t t = 0;
  for (const Checkpoint& c : cps) {
    SCOPED_TRACE(fmt::format("checkpoint {} after {} events", c.trigger, c.events));
    while (t < c.events) {
      auto e = reader.next();
      ASSERT_TRUE(e && *e);
      replay.apply(**e, t++, ended);
    }
    std::map<std::uint64_t, std::uint64_t> heads(c.heads.begin(), c.heads.end());
    for (const auto& [start, a] : replay.live()) {
      auto h = heads.find(start);
      ASSERT_NE(h, heads.end()) << "block " << start << " is live in the log, not in the table";
      EXPECT_EQ(h->second, a.size) << "block " << start;
    }
    EXPECT_LT(replay.live().size(), heads.size());  // the allocations from before are not logged
    EXPECT_EQ(replay.unlogged(), 0u);
  }
}

}  // namespace
}  // namespace mpheap::capture
