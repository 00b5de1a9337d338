// Snapshot capture over the GDB remote protocol: halt the target, read a RAM range, let it run
// again, hand each dump to a sink (the CLI appends it to a snapshot sequence file).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "mpheap/capture/rsp_client.h"
#include "mpheap/io/snapshot_sequence.h"
#include "mpheap/util/error.h"

namespace mpheap::capture {

struct SnapshotPlan {
  std::uint64_t start = 0;  // RAM range [start, end)
  std::uint64_t end = 0;
  // Either every `every_ms` milliseconds (the first at once), or at each stop at `on_address`.
  std::optional<std::uint64_t> every_ms;
  std::optional<std::uint64_t> on_address;
  std::string on_label;                // how the user named the location, for the headers
  int breakpoint_kind = 2;             // Z0's kind: the breakpoint instruction's size (Thumb: 2)
  std::optional<std::uint64_t> count;  // stop after this many snapshots
  bool registers = true;               // record the `g` reply in each header
};

enum class CaptureEnd { count_reached, interrupted, target_exited };

struct SnapshotStats {
  std::uint64_t snapshots = 0;
  double read_ms_total = 0;  // halted time spent reading memory and registers
  double read_ms_max = 0;
  CaptureEnd end = CaptureEnd::count_reached;
};

// Receives each snapshot; an error stops the capture.
using SnapshotSink =
    std::function<Expected<bool>(const io::SnapshotHeader&, std::span<const std::uint8_t>)>;

// Runs the plan until the count is reached, `*stop` becomes true (Ctrl-C) or the target's
// program ends. The target runs on afterwards (breakpoints removed; the caller detaches).
// `progress` is called after each snapshot.
Expected<SnapshotStats> capture_snapshots(
    RspClient& client, const SnapshotPlan& plan, const SnapshotSink& sink,
    const std::atomic<bool>* stop, const std::function<void(const SnapshotStats&)>& progress = {});

// "START:END" or "START+SIZE" (0x or decimal).
Expected<std::pair<std::uint64_t, std::uint64_t>> parse_range(std::string_view spec,
                                                              const char* option);

}  // namespace mpheap::capture
