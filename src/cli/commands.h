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

}  // namespace mpheap::cli
