// Snapshot capture: the halt / read / resume loop.
#include "mpheap/capture/snapshots.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>
#include <vector>

#include "mpheap/util/number.h"

namespace mpheap::capture {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::uint64_t unix_ms_now() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

bool stopping(const std::atomic<bool>* stop) {
  return stop != nullptr && stop->load();
}

}  // namespace

Expected<std::pair<std::uint64_t, std::uint64_t>> parse_range(std::string_view spec,
                                                              const char* option) {
  auto sep = spec.find_first_of(":+");
  auto bad = [&] {
    return Error{option, 0, 0,
                 fmt::format("expected START:END or START+SIZE (0x... or decimal) with END above "
                             "START, found '{}'",
                             spec)};
  };
  if (sep == std::string_view::npos) return bad();
  auto lo = parse_uint(spec.substr(0, sep)), hi = parse_uint(spec.substr(sep + 1));
  if (!lo || !hi) return bad();
  std::uint64_t end = spec[sep] == '+' ? *lo + *hi : *hi;
  if (end <= *lo || end < *lo) return bad();
  if (end - *lo > (1ULL << 30))
    return Error{option, 0, 0,
                 fmt::format("{} bytes is more than the 1 GiB a snapshot may hold", end - *lo)};
  return std::pair{*lo, end};
}

Expected<SnapshotStats> capture_snapshots(
    RspClient& client, const SnapshotPlan& plan, const SnapshotSink& sink,
    const std::atomic<bool>* stop, const std::function<void(const SnapshotStats&)>& progress) {
  SnapshotStats stats;
  const auto t0 = Clock::now();
  std::vector<std::uint8_t> ram(plan.end - plan.start);
  std::string trigger = plan.every_ms ? fmt::format("every:{}ms", *plan.every_ms)
                                      : fmt::format("on:{}", plan.on_label);
  bool breakpoint_set = false;

  auto cleanup = [&] {
    if (!client.stopped()) (void)client.halt();
    if (breakpoint_set) (void)client.set_breakpoint(false, *plan.on_address, plan.breakpoint_kind);
  };
  // Waits for the next trigger; false when the capture ends instead.
  auto next_stop = [&](bool first) -> Expected<bool> {
    if (plan.every_ms) {
      if (first) return true;  // the target is stopped since we connected
      if (auto r = client.resume(); !r) return r;
      const auto due = t0 + std::chrono::milliseconds(*plan.every_ms * stats.snapshots);
      while (Clock::now() < due) {
        if (stopping(stop)) {
          stats.end = CaptureEnd::interrupted;
          return false;
        }
        std::this_thread::sleep_for(
            std::min<Clock::duration>(due - Clock::now(), std::chrono::milliseconds(20)));
      }
      auto halted = client.halt();
      if (!halted) return halted.error();
      if (halted->kind == rsp::StopReply::Kind::exited ||
          halted->kind == rsp::StopReply::Kind::killed) {
        stats.end = CaptureEnd::target_exited;
        return false;
      }
      return true;
    }
    // A breakpoint: step off it first when we stopped there, as gdb does.
    if (first) {
      if (auto r = client.set_breakpoint(true, *plan.on_address, plan.breakpoint_kind); !r)
        return r;
      breakpoint_set = true;
    } else {
      if (auto r = client.set_breakpoint(false, *plan.on_address, plan.breakpoint_kind); !r)
        return r;
      auto stepped = client.step();
      if (!stepped) return stepped.error();
      if (stepped->kind != rsp::StopReply::Kind::signal) {
        breakpoint_set = false;
        stats.end = CaptureEnd::target_exited;
        return false;
      }
      if (auto r = client.set_breakpoint(true, *plan.on_address, plan.breakpoint_kind); !r)
        return r;
    }
    if (auto r = client.resume(); !r) return r;
    for (;;) {
      auto hit = client.wait_stop(1000, stop);
      if (hit) {
        if (hit->kind != rsp::StopReply::Kind::signal) {
          breakpoint_set = false;
          stats.end = CaptureEnd::target_exited;
          return false;
        }
        return true;
      }
      if (hit.error().kind == ErrorKind::timeout) continue;
      if (hit.error().kind == ErrorKind::cancelled) {
        stats.end = CaptureEnd::interrupted;
        return false;
      }
      return hit.error();
    }
  };

  for (bool first = true;; first = false) {
    if (stopping(stop)) {
      stats.end = CaptureEnd::interrupted;
      break;
    }
    auto go = next_stop(first);
    if (!go) {
      cleanup();
      return go.error();
    }
    if (!*go) break;
    const auto read_start = Clock::now();
    io::SnapshotHeader h;
    h.index = stats.snapshots;
    h.time_ms = ms_since(t0);
    h.unix_ms = unix_ms_now();
    h.start = plan.start;
    h.end = plan.end;
    h.trigger = trigger;
    auto read = client.read_memory(plan.start, ram.size(), ram.data());
    if (!read) {
      cleanup();
      Error e = read.error();
      e.what += fmt::format(" (reading the range {:#x}..{:#x})", plan.start, plan.end);
      return e;
    }
    if (plan.registers) {
      auto regs = client.read_registers();
      if (regs) h.registers = *regs;  // optional: a stub without `g` still gives the RAM
    }
    double read_ms = ms_since(read_start);
    stats.read_ms_total += read_ms;
    stats.read_ms_max = std::max(stats.read_ms_max, read_ms);
    if (auto written = sink(h, ram); !written) {
      cleanup();
      return written.error();
    }
    ++stats.snapshots;
    if (progress) progress(stats);
    if (plan.count && stats.snapshots >= *plan.count) {
      stats.end = CaptureEnd::count_reached;
      break;
    }
  }
  if (breakpoint_set && client.stopped())
    (void)client.set_breakpoint(false, *plan.on_address, plan.breakpoint_kind);
  else if (breakpoint_set) {
    cleanup();
  }
  return stats;
}

}  // namespace mpheap::capture
