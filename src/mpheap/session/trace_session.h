// The trace pipeline every consumer shares: one read of the log (a file or standard input),
// one replay, and every consumer (the analysis, allocation_history.json, the Perfetto export,
// the HTML report's lifespans and series) riding along on it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mpheap/io/line_reader.h"
#include "mpheap/report/output.h"
#include "mpheap/report/perfetto.h"
#include "mpheap/report/report_trace.h"
#include "mpheap/trace/trace_analysis.h"
#include "mpheap/util/error.h"

namespace mpheap::session {

// What the HTML report shows of a trace, from one pass over `input`.
[[nodiscard]] Expected<report::TraceReportData> trace_report(
    io::LineReader& input, const report::TraceReportOptions& options);

// The Perfetto export alone (one pass), for callers that want only that file.
[[nodiscard]] Expected<report::PerfettoStats> write_perfetto(io::LineReader& input,
                                                             const std::string& hook,
                                                             const report::PerfettoOptions& options,
                                                             report::Output& out);

}  // namespace mpheap::session
