// libFuzzer target for the gdb log reader and everything downstream of it (replay, history
// writer, call tree, presenters): any input must give events or one clean error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mpheap/io/line_reader.h"
#include "mpheap/report/collections_text.h"
#include "mpheap/report/history_json.h"
#include "mpheap/report/output.h"
#include "mpheap/report/trace_report.h"
#include "mpheap/trace/call_tree.h"
#include "mpheap/trace/trace_analysis.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mpheap;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto reader = io::LineReader::from_memory(text, "fuzz.log");
  auto out = report::Output::open("/dev/null");
  if (!out) return 0;
  report::HistoryJsonWriter history(**out);
  report::CollectionsText collections(5, size > 0 ? data[0] * 8 : 1);  // spilled now and then
  trace::TraceOptions options;
  options.collection_sink = &collections;
  if (size > 0) options.at_event = data[0] % 8;
  // Both frame views: the high bit of the first byte picks the Python-only one.
  if (size > 0 && (data[0] & 0x80) != 0) options.frame_view = trace::FrameView::python_only;
  auto result = trace::analyze_trace(*reader, options, &history);
  history.finish();
  (void)(*out)->close();
  if (!result) {
    (void)result.error().message();
    return 0;
  }
  trace::CallTree tree =
      trace::build_call_tree(result->stacks, std::span<const std::int64_t>(result->live_by_stack));
  trace::CallTree allocated = trace::build_call_tree(
      result->stacks, std::span<const std::uint64_t>(result->allocated_by_stack));
  (void)report::call_tree_text(tree);
  (void)report::call_tree_json(tree, result->tree_event, result->summary.block_size);
  (void)report::folded_stacks(allocated);
  (void)report::summary_json(*result);
  (void)report::summary_text(result->summary, result->collections);
  (void)collections.write_to([](std::string_view) {});
  return 0;
}
