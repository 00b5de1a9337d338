// Subcommand registration: each subcommand file adds its options and its run callback.
#pragma once

#include <CLI/CLI.hpp>

namespace mpheap::cli {

// Adds `mpheap trace` to `app`; the callback stores its exit status in `*status`.
void add_trace_command(CLI::App& app, int* status);
void add_mpy_command(CLI::App& app, int* status);
void add_target_command(CLI::App& app, int* status);
void add_heap_command(CLI::App& app, int* status);
void add_capture_command(CLI::App& app, int* status);
void add_report_command(CLI::App& app, int* status);

// The --help text of --python-only, shared by the subcommands that read a trace log.
inline constexpr const char* kPythonOnlyHelp =
    "show Python frames only: a call stack with Python frames ('[py] FUNCTION at FILE:LINE' "
    "lines, which the native tracer of 'mpheap capture trace' writes) keeps only those, "
    "innermost first, so the call tree, flame graphs, exports and allocation sites name Python "
    "code; a stack with no Python frame (start-up, the compiler, C code alone) is kept as logged. "
    "Events are still classified by their C caller";

}  // namespace mpheap::cli
