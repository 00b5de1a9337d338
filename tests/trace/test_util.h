// Helpers shared by the trace tests: run the pipeline over a file or a string.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "mpheap/io/line_reader.h"
#include "mpheap/trace/trace_analysis.h"

namespace mpheap::testing {

// Debian's firmware-microbit-micropython (MicroPython 1.9.2, no ELF); tests that need it skip
// when the package is not installed. It is never copied into the repository.
inline constexpr const char* kDebianMicrobitHex =
    "/usr/share/firmware-microbit-micropython/firmware.hex";

inline std::string data_path(const std::string& rel) {
  return std::string(MPHEAP_TEST_DATA) + "/" + rel;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline Expected<trace::TraceResult> analyze_text(std::string_view text,
                                                 const trace::TraceOptions& options = {},
                                                 trace::LifespanSink* sink = nullptr) {
  auto reader = io::LineReader::from_memory(text, "test.log");
  return trace::analyze_trace(*reader, options, sink);
}

inline std::uint64_t kind(const trace::TraceSummary& s, trace::EventKind k) {
  return s.kinds[static_cast<int>(k)];
}

}  // namespace mpheap::testing
