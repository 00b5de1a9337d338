// allocation_history.json: a list of {start_block, size, start_trace, start_time, end_trace,
// end_time, end_cause}; traces are [address, "file:line", function] lists, innermost first.
#include "mpheap/report/history_json.h"

#include <fmt/format.h>

namespace mpheap::report {

const std::string& HistoryJsonWriter::frame_json(trace::FrameId id,
                                                 const trace::StackTable& stacks) {
  if (id >= frame_json_.size())
    frame_json_.resize(std::max<std::size_t>(id + 1, stacks.frame_count()));
  std::string& s = frame_json_[id];
  if (s.empty()) {
    const trace::Frame& f = stacks.frame(id);
    s.push_back('[');
    append_json_string(s, f.address);
    s += ", ";
    append_json_string(s, f.location);
    s += ", ";
    append_json_string(s, f.function);
    s.push_back(']');
  }
  return s;
}

void HistoryJsonWriter::append_trace(trace::StackId stack, const trace::StackTable& stacks) {
  std::string& b = out_.buffer();
  b.push_back('[');
  bool first = true;
  for (trace::StackId s = stack; s != trace::kEmptyStack; s = stacks.parent(s)) {
    if (!first) b += ", ";
    first = false;
    b += frame_json(stacks.frame_of(s), stacks);
  }
  b.push_back(']');
}

void HistoryJsonWriter::begin_entry(const trace::Allocation& a, const trace::StackTable& stacks) {
  std::string& b = out_.buffer();
  if (entries_++ > 0) b += ", ";
  fmt::format_to(std::back_inserter(b),
                 "{{\"start_block\": {}, \"size\": {}, \"start_trace\": ", a.start_block, a.size);
  append_trace(a.start_stack, stacks);
  fmt::format_to(std::back_inserter(b), ", \"start_time\": {}, \"end_trace\": ", a.start_time);
}

void HistoryJsonWriter::ended(const trace::EndedAllocation& a, const trace::StackTable& stacks) {
  begin_entry(a.allocation, stacks);
  append_trace(a.end_stack, stacks);
  fmt::format_to(std::back_inserter(out_.buffer()), ", \"end_time\": {}, \"end_cause\": \"{}\"}}",
                 a.end_time, trace::to_string(a.cause));
  out_.maybe_flush();
}

void HistoryJsonWriter::still_live(const trace::Allocation& a, std::uint64_t end_time,
                                   const trace::StackTable& stacks) {
  begin_entry(a, stacks);
  fmt::format_to(std::back_inserter(out_.buffer()), "\"\", \"end_time\": {}}}", end_time);
  out_.maybe_flush();
}

}  // namespace mpheap::report
