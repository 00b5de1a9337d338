// Writes allocation_history.json while the log streams, in the schema gc_activity.html reads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mpheap/report/output.h"
#include "mpheap/trace/trace_analysis.h"

namespace mpheap::report {

class HistoryJsonWriter final : public trace::LifespanSink {
 public:
  explicit HistoryJsonWriter(Output& out) : out_(out) { out_.write("["); }
  void ended(const trace::EndedAllocation& a, const trace::StackTable& stacks) override;
  void still_live(const trace::Allocation& a, std::uint64_t end_time,
                  const trace::StackTable& stacks) override;
  // Writes the closing bracket.
  void finish() { out_.write("]"); }
  [[nodiscard]] std::uint64_t entries() const { return entries_; }

 private:
  void begin_entry(const trace::Allocation& a, const trace::StackTable& stacks);
  void append_trace(trace::StackId stack, const trace::StackTable& stacks);
  void render_trace(std::string& b, trace::StackId stack, const trace::StackTable& stacks);
  const std::string& frame_json(trace::FrameId id, const trace::StackTable& stacks);

  // Rendered traces are kept up to this many bytes; further stacks are rendered frame by frame
  // each time, so memory stays bounded however many distinct call stacks a log has.
  static constexpr std::size_t kStackJsonBudget = 4 << 20;

  Output& out_;
  std::vector<std::string> frame_json_;  // rendered once per distinct frame
  std::vector<std::string> stack_json_;  // rendered once per distinct stack, within the budget
  std::size_t stack_json_bytes_ = 0;
  std::uint64_t entries_ = 0;
};

}  // namespace mpheap::report
