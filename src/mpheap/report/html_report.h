// The self-contained HTML report: one file with the page's script and style inlined and the
// data (trace lifespans, timeline, snapshots) embedded compactly as base64 typed arrays.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mpheap/report/report_heap.h"
#include "mpheap/report/report_trace.h"

namespace mpheap::report {

struct HtmlReportInput {
  std::string title;
  std::uint64_t block_size = 16;
  std::string trace_file;                  // shown in the header
  const TraceReportData* trace = nullptr;  // may be null
  std::vector<SnapshotSummary> snapshots;  // may be empty
};

// The data the page reads (its schema: docs/report.md), as JSON text.
std::string html_report_data_json(const HtmlReportInput& input);

// The whole page.
std::string html_report(const HtmlReportInput& input);

// Standard base64 of `bytes` (the page decodes it into typed arrays).
std::string base64(const void* bytes, std::size_t size);

}  // namespace mpheap::report
