// Text and JSON renderings of a trace analysis.
#include "mpheap/report/trace_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace mpheap::report {
namespace {

using nlohmann::ordered_json;

std::string bytes_text(std::uint64_t n) {
  if (n >= 10ULL << 20) return fmt::format("{:.1f} MB", static_cast<double>(n) / 1e6);
  if (n >= 10ULL << 10) return fmt::format("{:.1f} kB", static_cast<double>(n) / 1e3);
  return fmt::format("{} bytes", n);
}

void tree_lines(const std::vector<trace::CallTreeNode>& nodes, int depth, std::string& out) {
  for (const auto& n : nodes) {
    if (n.blocks == 0) continue;
    fmt::format_to(std::back_inserter(out), "{:{}}{} {} {} blocks\n", "", depth * 2, n.location,
                   n.function, n.blocks);
    tree_lines(n.children, depth + 1, out);
  }
}

ordered_json tree_json(const std::vector<trace::CallTreeNode>& nodes) {
  ordered_json a = ordered_json::array();
  for (const auto& n : nodes) {
    if (n.blocks == 0) continue;
    ordered_json node{{"location", n.location}, {"function", n.function}};
    if (n.python) node["python"] = true;
    node["blocks"] = n.blocks;
    node["children"] = tree_json(n.children);
    a.push_back(std::move(node));
  }
  return a;
}

std::string frame_label(std::string_view function, std::string_view location) {
  std::string s = fmt::format("{} ({})", function, location);
  std::replace(s.begin(), s.end(), ';', ':');
  return s;
}

void folded_lines(const std::vector<trace::CallTreeNode>& nodes, std::string& path,
                  std::string& out) {
  for (const auto& n : nodes) {
    if (n.blocks == 0) continue;
    std::size_t keep = path.size();
    if (!path.empty()) path.push_back(';');
    path += frame_label(n.function, n.location);
    std::uint64_t below = 0;
    for (const auto& c : n.children) below += c.blocks;
    if (n.blocks > below)
      fmt::format_to(std::back_inserter(out), "{} {}\n", path, n.blocks - below);
    folded_lines(n.children, path, out);
    path.resize(keep);
  }
}

std::string size_list(const std::map<std::uint64_t, std::uint64_t>& sizes, std::size_t max_items) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> v(sizes.begin(), sizes.end());
  std::stable_sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.second > b.second; });
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < max_items; ++i)
    fmt::format_to(std::back_inserter(s), "{}{} block{} x{}", i ? ", " : "", v[i].first,
                   v[i].first == 1 ? "" : "s", v[i].second);
  if (v.size() > max_items) fmt::format_to(std::back_inserter(s), ", ... ({} sizes)", v.size());
  return s;
}

}  // namespace

std::string summary_text(const trace::TraceSummary& s, std::size_t collections) {
  std::string out;
  auto kind = [&](trace::EventKind k) { return s.kinds[static_cast<int>(k)]; };
  fmt::format_to(std::back_inserter(out), "log          {} ({}, {} style, {}-bit addresses)\n",
                 s.file, bytes_text(s.bytes_read), trace::to_string(s.style),
                 s.wide_addresses ? 64 : 32);
  fmt::format_to(std::back_inserter(out),
                 "events       {} hook calls: alloc {}, free {}, sweep {}, realloc {}"
                 " ({} repeated reports dropped)\n",
                 s.events, kind(trace::EventKind::alloc), kind(trace::EventKind::free),
                 kind(trace::EventKind::sweep), kind(trace::EventKind::realloc), s.duplicates);
  fmt::format_to(std::back_inserter(out),
                 "live at end  {} allocations, {} blocks = {} bytes ({}-byte blocks, {})\n",
                 s.live_allocations_end, s.live_blocks_end, s.live_blocks_end * s.block_size,
                 s.block_size, s.block_size_source);
  fmt::format_to(std::back_inserter(out), "peak         {} blocks = {} bytes after event {}\n",
                 s.peak_live_blocks, s.peak_live_blocks * s.block_size, s.peak_event);
  if (s.sweeps_logged) {
    fmt::format_to(std::back_inserter(out), "collections  {} ({} sweep frees)\n", collections,
                   kind(trace::EventKind::sweep));
  } else {
    out += "collections  not visible: the log has no sweep events\n";
  }
  fmt::format_to(std::back_inserter(out),
                 "unlogged     {} allocations ended unlogged; {} frees of blocks not live\n",
                 s.unlogged, s.unmatched_frees);
  fmt::format_to(std::back_inserter(out), "end          {}\n", s.end_reason);
  if (s.python_stops > 0 || s.frame_view == trace::FrameView::python_only)
    fmt::format_to(std::back_inserter(out), "python       {} stops with Python frames; {}\n",
                   s.python_stops,
                   s.frame_view == trace::FrameView::python_only
                       ? "their stacks show only those (--python-only)"
                       : "stacks show Python and C frames");
  return out;
}

std::string summary_warnings(const trace::TraceSummary& s) {
  std::string out;
  if (s.incomplete_last_event) {
    fmt::format_to(std::back_inserter(out),
                   "warning: {}:{}: the log ends inside this stop; its event is incomplete and "
                   "was left out ({} complete events kept)\n",
                   s.file, s.incomplete_line, s.events);
  }
  if (s.frame_view == trace::FrameView::python_only && s.python_stops == 0 && s.events > 0) {
    out +=
        "warning: --python-only: the log has no Python frames ('[py]' lines, which mpheap "
        "capture trace's native tracer writes); every stack is shown as logged\n";
  }
  if (!s.sweeps_logged && s.events > 0) {
    fmt::format_to(std::back_inserter(out),
                   "warning: no sweep events in this log (the firmware's collector does not call "
                   "the hook): live figures are upper bounds; {} allocations were ended as "
                   "'unlogged' when a later allocation reused their blocks\n",
                   s.unlogged);
  }
  return out;
}

std::string summary_json(const trace::TraceResult& r) {
  const trace::TraceSummary& s = r.summary;
  ordered_json hist = ordered_json::object();
  for (auto [blocks, n] : s.size_histogram) hist[std::to_string(blocks)] = n;
  auto kind = [&](trace::EventKind k) { return s.kinds[static_cast<int>(k)]; };
  ordered_json j{
      {"version", kTraceSummaryVersion},
      {"file", s.file},
      {"bytes_read", s.bytes_read},
      {"style", trace::to_string(s.style)},
      {"stops", s.stops},
      {"events", s.events},
      {"duplicates", s.duplicates},
      {"kinds",
       {{"alloc", kind(trace::EventKind::alloc)},
        {"free", kind(trace::EventKind::free)},
        {"sweep", kind(trace::EventKind::sweep)},
        {"realloc", kind(trace::EventKind::realloc)}}},
      {"classified_by_caller", s.by_caller},
      {"unlogged", s.unlogged},
      {"unmatched_frees", s.unmatched_frees},
      {"sweeps_logged", s.sweeps_logged},
      {"collections", r.collections},
      {"live_allocations_end", s.live_allocations_end},
      {"live_blocks_end", s.live_blocks_end},
      {"live_bytes_end", s.live_blocks_end * s.block_size},
      {"peak_live_blocks", s.peak_live_blocks},
      {"peak_live_bytes", s.peak_live_blocks * s.block_size},
      {"peak_event", s.peak_event},
      {"size_histogram", hist},
      {"incomplete_last_event", s.incomplete_last_event},
      {"block_size", s.block_size},
      {"block_size_source", s.block_size_source},
      {"address_bits", s.wide_addresses ? 64 : 32},
      {"has_ticks", s.has_ticks},
      {"end_reason", s.end_reason},
      {"distinct_frames", s.distinct_frames},
      {"distinct_stacks", s.distinct_stacks},
  };
  if (s.incomplete_last_event) j["incomplete_line"] = s.incomplete_line;
  if (s.python_stops > 0 || s.frame_view == trace::FrameView::python_only) {
    j["python_stops"] = s.python_stops;
    j["frame_view"] = s.frame_view == trace::FrameView::python_only ? "python_only" : "mixed";
  }
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string call_tree_text(const trace::CallTree& tree) {
  std::string out;
  tree_lines(tree.roots, 0, out);
  fmt::format_to(std::back_inserter(out), "{} total blocks\n", tree.total_blocks);
  return out;
}

std::string call_tree_json(const trace::CallTree& tree, std::uint64_t at_event,
                           std::uint64_t block_size) {
  ordered_json j{{"version", kCallTreeVersion},
                 {"at_event", at_event},
                 {"block_size", block_size},
                 {"total_blocks", tree.total_blocks},
                 {"tree", tree_json(tree.roots)}};
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string collection_text(const trace::Collection& c, const trace::StackTable& stacks,
                            std::size_t top_sites) {
  std::string out;
  if (c.trailing) {
    fmt::format_to(std::back_inserter(out),
                   "after the last collection: {} events, {} allocations ({} blocks)\n",
                   c.events_since_previous, c.allocations_since_previous,
                   c.blocks_allocated_since_previous);
  } else {
    fmt::format_to(
        std::back_inserter(out),
        "collection {}: events {}..{}, freed {} objects / {} blocks, live {} -> {} blocks\n",
        c.index, c.first_event, c.last_event, c.objects_freed, c.blocks_freed, c.live_blocks_before,
        c.live_blocks_after);
    fmt::format_to(
        std::back_inserter(out), "  since the previous one: {} events, {} allocations ({} blocks)",
        c.events_since_previous, c.allocations_since_previous, c.blocks_allocated_since_previous);
    if (c.ms_since_previous)
      fmt::format_to(std::back_inserter(out), ", {} ms", *c.ms_since_previous);
    out += "\n";
  }
  if (!c.allocations_by_size.empty())
    fmt::format_to(std::back_inserter(out), "  sizes: {}\n", size_list(c.allocations_by_size, 8));
  std::vector<std::pair<trace::FrameId, std::pair<std::uint64_t, std::uint64_t>>> sites(
      c.sites.begin(), c.sites.end());
  std::stable_sort(sites.begin(), sites.end(), [](auto& a, auto& b) {
    return a.second.second != b.second.second ? a.second.second > b.second.second
                                              : a.second.first > b.second.first;
  });
  for (std::size_t i = 0; i < sites.size() && i < top_sites; ++i) {
    const trace::Frame& f = stacks.frame(sites[i].first);
    fmt::format_to(std::back_inserter(out), "  {:>6} blocks in {:>5} allocations  {} {}\n",
                   sites[i].second.second, sites[i].second.first, f.location, f.function);
  }
  return out;
}

std::string folded_stacks(const trace::CallTree& tree) {
  std::string out;
  std::string path;
  folded_lines(tree.roots, path, out);
  std::uint64_t below = 0;
  for (const auto& c : tree.roots) below += c.blocks;
  // Blocks whose stacks lie wholly inside the allocator (or that have no stack) stay visible.
  if (tree.total_blocks > below)
    fmt::format_to(std::back_inserter(out), "[no stack] {}\n", tree.total_blocks - below);
  return out;
}

std::string allocation_sites_text(const std::vector<trace::AllocationSite>& sites,
                                  const trace::StackTable& stacks, std::size_t top) {
  std::string out;
  auto it = std::back_inserter(out);
  std::uint64_t total = 0;
  for (const trace::AllocationSite& s : sites) total += s.allocations;
  fmt::format_to(it, "allocation sites of the whole run: {} of {} ({} allocations)\n",
                 std::min(top, sites.size()), sites.size(), total);
  if (sites.empty()) return out;
  fmt::format_to(it, "  {:>11}  {:>6}  {:>8}  site\n", "allocations", "%", "blocks");
  for (std::size_t i = 0; i < sites.size() && i < top; ++i) {
    const trace::Frame& f = stacks.frame(sites[i].frame);
    fmt::format_to(
        it, "  {:>11}  {:>5.1f}%  {:>8}  {} {}{}\n", sites[i].allocations,
        total > 0 ? 100.0 * static_cast<double>(sites[i].allocations) / static_cast<double>(total)
                  : 0.0,
        sites[i].blocks, f.location, f.function, f.python ? " [py]" : "");
  }
  return out;
}

}  // namespace mpheap::report
