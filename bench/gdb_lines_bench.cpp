// Micro-benchmarks of the gdb line recognisers and of the whole trace pipeline over fixture
// logs held in memory (so the numbers leave out the disk).
//
// The fixture logs are looked up under tests/data, then ../shared/fixtures, relative to the
// source tree; MPHEAP_BENCH_LOG=path adds (or, when the fixtures are missing, replaces) one.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/io/line_reader.h"
#include "mpheap/report/history_json.h"
#include "mpheap/report/output.h"
#include "mpheap/trace/gdb_lines.h"
#include "mpheap/trace/trace_analysis.h"

#ifndef MPHEAP_SOURCE_DIR
#define MPHEAP_SOURCE_DIR "."
#endif

namespace {

namespace gdb = mpheap::trace::gdb;

// Frame lines as gdb printed them in the fixture logs (unix-x64, qemu-microbit).
struct NamedLine {
  const char* name;
  std::string_view line;
};
constexpr NamedLine kFrameLines[] = {
    {"alloc_64bit",
     "#1  0x000055555556d63b in gc_alloc (n_bytes=n_bytes@entry=48, "
     "alloc_flags=alloc_flags@entry=0) "
     "at ../../py/gc.c:967"},
    {"inlined_no_address", "#2  gc_collect_end () at ../../py/gc.c:592"},
    {"no_arguments", "#3  0x00005555555be4d5 in gc_collect () at gccollect.c:42"},
    {"optimized_out",
     "#5  0x000055555558dd1e in fun_builtin_0_call (self_in=0x5555555ee750 <gc_collect_obj>, "
     "n_args=<optimized out>, n_kw=<optimized out>, args=<optimized out>) at ../../py/objfun.c:58"},
    {"enum_arguments",
     "#12 0x00005555555c03df in parse_compile_execute (source=<optimized out>, "
     "input_kind=input_kind@entry=MP_PARSE_FILE_INPUT, exec_flags=exec_flags@entry=32) at "
     "../../shared/runtime/pyexec.c:137"},
    // string arguments with ':' inside (the longest kind of line in the logs)
    {"string_arguments",
     "#4  0x000055555556e528 in qstr_from_strn_helper (str=0x5555555f3760 \".frozen\", "
     "str@entry=0x5555555cd280 \".frozen:~/.micropython/lib:/usr/lib/micropython\", "
     "len=len@entry=7, "
     "data_is_static=data_is_static@entry=false) at ../../py/qstr.c:376"},
    {"32bit",
     "#4  0x0000d898 in mp_map_init (map=map@entry=0x20000060 <mp_state_ctx+80>, n=n@entry=3) at "
     "../../py/map.c:95"},
};

constexpr std::string_view kStopLines[] = {
    "Breakpoint 1, gc_log_change (start_block=0, length=2) at ../../py/gc.c:151",
    "Breakpoint 1, gc_log_change (start_block=1622, length=0) at ../../py/gc.c:151",
    "Breakpoint 2, mp_deinit () at ../../py/runtime.c:204",
    "Breakpoint 1, gc_log_change (start_block=0, length=2) at ../../py/gc.c:142",
};

std::size_t total_bytes(std::span<const std::string_view> lines) {
  std::size_t n = 0;
  for (std::string_view l : lines) n += l.size();
  return n;
}

std::size_t total_bytes(std::span<const NamedLine> lines) {
  std::size_t n = 0;
  for (const NamedLine& l : lines) n += l.line.size();
  return n;
}

void BM_parse_frame_line(benchmark::State& state, std::string_view line) {
  for (auto _ : state) {
    auto f = gdb::parse_frame_line(line);
    benchmark::DoNotOptimize(f);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(line.size()));
}

void BM_parse_frame_line_all(benchmark::State& state) {
  for (auto _ : state) {
    for (const NamedLine& l : kFrameLines) {
      auto f = gdb::parse_frame_line(l.line);
      benchmark::DoNotOptimize(f);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(total_bytes(kFrameLines)));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * std::ssize(kFrameLines));
}
BENCHMARK(BM_parse_frame_line_all);

void BM_parse_stop_line_all(benchmark::State& state) {
  for (auto _ : state) {
    for (std::string_view line : kStopLines) {
      auto s = gdb::parse_stop_line(line);
      benchmark::DoNotOptimize(s);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(total_bytes(kStopLines)));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * std::ssize(kStopLines));
}
BENCHMARK(BM_parse_stop_line_all);

// A stop line's arguments as the reader takes them: parse, then the two integer arguments.
void BM_stop_line_arguments(benchmark::State& state) {
  std::string_view line = kStopLines[1];
  for (auto _ : state) {
    auto s = gdb::parse_stop_line(line);
    std::optional<std::uint64_t> start, length;
    if (s) {
      start = gdb::argument_integer(s->frame.args, 0);
      length = gdb::argument_integer(s->frame.args, 1);
    }
    benchmark::DoNotOptimize(start);
    benchmark::DoNotOptimize(length);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(line.size()));
}
BENCHMARK(BM_stop_line_arguments);

// The whole pipeline over a log in memory; with `history`, the allocation_history.json writer
// streams to /dev/null as `mpheap trace --history` does.
void BM_analyze_trace(benchmark::State& state, const std::string* log, bool history) {
  std::uint64_t events = 0;
  for (auto _ : state) {
    auto input = mpheap::io::LineReader::from_memory(*log, "<memory>");
    mpheap::trace::TraceOptions options;
    std::optional<mpheap::report::HistoryJsonWriter> writer;
    std::unique_ptr<mpheap::report::Output> out;
    if (history) {
      auto opened = mpheap::report::Output::open("/dev/null");
      if (!opened) {
        state.SkipWithError(opened.error().message().c_str());
        return;
      }
      out = std::move(*opened);
      writer.emplace(*out);
    }
    auto result = mpheap::trace::analyze_trace(*input, options, writer ? &*writer : nullptr);
    if (!result) {
      state.SkipWithError(result.error().message().c_str());
      return;
    }
    if (writer) {
      writer->finish();
      (void)out->close();
    }
    events = result->summary.events;
    benchmark::DoNotOptimize(result->summary.live_blocks_end);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(log->size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(events));
  state.counters["events"] = static_cast<double>(events);
}

std::optional<std::string> slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return std::move(s).str();
}

struct Fixture {
  std::string name;
  std::string text;
};

// The fixture logs to run the pipeline on; kept alive for the whole run.
std::vector<Fixture> load_fixtures() {
  namespace fs = std::filesystem;
  const fs::path source(MPHEAP_SOURCE_DIR);
  const char* logs[] = {"unix-x64/gc_log_backtrace.txt", "circuitpython-unix/gc_log_cpstyle.txt",
                        "qemu-microbit/gc_log_backtrace.txt"};
  std::vector<Fixture> out;
  for (const char* rel : logs) {
    for (const fs::path& dir : {source / "tests/data", source / "../shared/fixtures"}) {
      if (auto text = slurp(dir / rel)) {
        out.push_back({rel, std::move(*text)});
        break;
      }
    }
  }
  if (const char* extra = std::getenv("MPHEAP_BENCH_LOG")) {
    if (auto text = slurp(extra)) out.push_back({extra, std::move(*text)});
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  for (const NamedLine& l : kFrameLines)
    benchmark::RegisterBenchmark((std::string("BM_parse_frame_line/") + l.name).c_str(),
                                 BM_parse_frame_line, l.line);
  static const std::vector<Fixture> fixtures = load_fixtures();
  if (fixtures.empty())
    std::fprintf(stderr, "gdb_lines_bench: no fixture log found under %s; set MPHEAP_BENCH_LOG\n",
                 MPHEAP_SOURCE_DIR);
  for (const Fixture& f : fixtures) {
    benchmark::RegisterBenchmark(("BM_analyze_trace/" + f.name).c_str(), BM_analyze_trace, &f.text,
                                 false)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("BM_analyze_trace_history/" + f.name).c_str(), BM_analyze_trace,
                                 &f.text, true)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
