// allocation_history.json: a list of {start_block, size, start_trace, start_time, end_trace,
// end_time, end_cause}; traces are [address, "file:line", function] lists, innermost first
// ("[py]" in place of the address for a Python frame).
#include "mpheap/report/history_json.h"

#include <algorithm>
#include <charconv>

namespace mpheap::report {
namespace {

void append_number(std::string& b, std::uint64_t v) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  b.append(digits, static_cast<std::size_t>(end - digits));
}

}  // namespace

const std::string& HistoryJsonWriter::frame_json(trace::FrameId id,
                                                 const trace::StackTable& stacks) {
  if (id >= frame_json_.size())
    frame_json_.resize(std::max<std::size_t>(id + 1, stacks.frame_count()));
  std::string& s = frame_json_[id];
  if (s.empty()) {
    const trace::Frame& f = stacks.frame(id);
    s.push_back('[');
    // A Python frame has no code address: the log's own marker stands in its place, so the
    // frame keeps gc_activity.py's three strings and nobody reads it as an address.
    append_json_string(s, f.python ? std::string_view("[py]") : std::string_view(f.address));
    s += ", ";
    append_json_string(s, f.location);
    s += ", ";
    append_json_string(s, f.function);
    s.push_back(']');
  }
  return s;
}

void HistoryJsonWriter::render_trace(std::string& b, trace::StackId stack,
                                     const trace::StackTable& stacks) {
  b.push_back('[');
  bool first = true;
  for (trace::StackId s = stack; s != trace::kEmptyStack; s = stacks.parent(s)) {
    if (!first) b += ", ";
    first = false;
    b += frame_json(stacks.frame_of(s), stacks);
  }
  b.push_back(']');
}

void HistoryJsonWriter::append_trace(trace::StackId stack, const trace::StackTable& stacks) {
  std::string& b = out_.buffer();
  if (stack < stack_json_.size() && !stack_json_[stack].empty()) {
    b += stack_json_[stack];
    return;
  }
  if (stack_json_bytes_ >= kStackJsonBudget) {
    render_trace(b, stack, stacks);
    return;
  }
  if (stack >= stack_json_.size())
    stack_json_.resize(std::max<std::size_t>(stack + 1, stacks.stack_count()));
  std::string& cached = stack_json_[stack];
  render_trace(cached, stack, stacks);
  stack_json_bytes_ += cached.size();
  b += cached;
}

void HistoryJsonWriter::begin_entry(const trace::Allocation& a, const trace::StackTable& stacks) {
  std::string& b = out_.buffer();
  if (entries_++ > 0) b += ", ";
  b += "{\"start_block\": ";
  append_number(b, a.start_block);
  b += ", \"size\": ";
  append_number(b, a.size);
  b += ", \"start_trace\": ";
  append_trace(a.start_stack, stacks);
  b += ", \"start_time\": ";
  append_number(b, a.start_time);
  b += ", \"end_trace\": ";
}

void HistoryJsonWriter::ended(const trace::EndedAllocation& a, const trace::StackTable& stacks) {
  begin_entry(a.allocation, stacks);
  append_trace(a.end_stack, stacks);
  std::string& b = out_.buffer();
  b += ", \"end_time\": ";
  append_number(b, a.end_time);
  b += ", \"end_cause\": \"";
  b += trace::to_string(a.cause);
  b += "\"}";
  out_.maybe_flush();
}

void HistoryJsonWriter::still_live(const trace::Allocation& a, std::uint64_t end_time,
                                   const trace::StackTable& stacks) {
  begin_entry(a, stacks);
  std::string& b = out_.buffer();
  b += "\"\", \"end_time\": ";
  append_number(b, end_time);
  b += '}';
  out_.maybe_flush();
}

}  // namespace mpheap::report
