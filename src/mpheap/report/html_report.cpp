// Writes the HTML report: the page template from web/src (embedded at build time) with the
// data inserted as JSON whose columns are base64 little-endian typed arrays.
#include "mpheap/report/html_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "mpheap/report/output.h"
#include "mpheap/report/web_assets.h"  // generated from web/src by web/embed.cmake

namespace mpheap::report {
namespace {

using Json = nlohmann::ordered_json;

// Little-endian u32 column; values past 2^32-1 are clamped (block numbers, events and byte
// counts of a microcontroller heap never get there).
std::string u32_column(const std::vector<std::uint64_t>& values) {
  std::string bytes;
  bytes.reserve(values.size() * 4);
  for (std::uint64_t v : values) {
    auto x = static_cast<std::uint32_t>(std::min<std::uint64_t>(v, 0xffffffffu));
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((x >> (8 * i)) & 0xffu));
  }
  return base64(bytes.data(), bytes.size());
}

// Unsigned LEB128 values (7 bits a byte, low first, the high bit set on all but the last), as
// base64: small numbers (the deltas and sizes of a trace's allocations) take one or two bytes.
class VarintColumn {
 public:
  void add(std::uint64_t v) {
    while (v >= 0x80) {
      bytes_.push_back(static_cast<char>((v & 0x7fu) | 0x80u));
      v >>= 7;
    }
    bytes_.push_back(static_cast<char>(v));
  }
  // Zigzag: 0, -1, 1, -2, ... as 0, 1, 2, 3, ...
  void add_signed(std::int64_t v) {
    add(v < 0 ? ((static_cast<std::uint64_t>(-(v + 1))) << 1) | 1u
              : static_cast<std::uint64_t>(v) << 1);
  }
  [[nodiscard]] std::string base64() const { return report::base64(bytes_.data(), bytes_.size()); }

 private:
  std::string bytes_;
};

// How an allocation ended, the low part of its `life` value: 0 freed, 1 swept, 2 reallocated,
// 3 unlogged (trace::EndCause), 4 still live at the end.
constexpr std::uint64_t kEndCodes = 8;

std::string u8_column(const std::vector<std::uint8_t>& values) {
  return base64(values.data(), values.size());
}

Json trace_json(const TraceReportData& d) {
  const trace::TraceResult& r = d.result;
  const trace::TraceSummary& s = r.summary;
  Json j;
  j["events"] = s.events;
  j["summary"] = {{"live_blocks_end", s.live_blocks_end},
                  {"live_allocations_end", s.live_allocations_end},
                  {"peak_live_blocks", s.peak_live_blocks},
                  {"peak_event", s.peak_event},
                  {"alloc", s.kinds[0]},
                  {"free", s.kinds[1]},
                  {"sweep", s.kinds[2]},
                  {"realloc", s.kinds[3]},
                  {"unlogged", s.unlogged},
                  {"sweeps_logged", s.sweeps_logged},
                  {"collections", d.timeline.collections}};
  // Frames as "function\tlocation"; stacks as (parent, frame) columns indexed by StackId.
  Json frames = Json::array();
  std::vector<std::uint8_t> allocator;
  for (std::size_t f = 0; f < r.stacks.frame_count(); ++f) {
    const trace::Frame& fr = r.stacks.frame(static_cast<trace::FrameId>(f));
    frames.push_back(fr.function + "\t" + fr.location);
    allocator.push_back(fr.allocator ? 1 : 0);
  }
  j["frames"] = std::move(frames);
  j["frame_allocator"] = u8_column(allocator);
  std::vector<std::uint64_t> parent, frame;
  for (std::size_t st = 0; st < r.stacks.stack_count(); ++st) {
    auto id = static_cast<trace::StackId>(st);
    parent.push_back(r.stacks.parent(id));
    frame.push_back(r.stacks.frame_of(id));
  }
  j["stack_parent"] = u32_column(parent);
  j["stack_frame"] = u32_column(frame);

  // The allocations, in start order, as varint columns (docs/report.md, "alloc"): a page of a
  // million events holds ~700,000 of them, so each costs ~6 bytes instead of 21.
  VarintColumn start_time, life, start_block, size, stack;
  std::uint64_t map_blocks = 0, previous_time = 0, previous_block = 0;
  for (const TraceAllocation& a : d.allocations) {
    start_time.add(a.start_time - previous_time);
    const std::uint64_t end = a.live ? 4 : static_cast<std::uint8_t>(a.cause);
    life.add((a.end_time - a.start_time) * kEndCodes + end);
    start_block.add_signed(static_cast<std::int64_t>(a.start_block - previous_block));
    size.add(a.size);
    stack.add(a.stack);
    previous_time = a.start_time;
    previous_block = a.start_block;
    map_blocks = std::max(map_blocks, a.start_block + a.size);
  }
  if (d.timeline.heap_blocks) map_blocks = std::max(map_blocks, *d.timeline.heap_blocks);
  j["heap_blocks"] = d.timeline.heap_blocks ? Json(*d.timeline.heap_blocks) : Json(nullptr);
  j["map_blocks"] = map_blocks;
  j["alloc"] = {{"count", d.allocations.size()}, {"start_time", start_time.base64()},
                {"life", life.base64()},         {"start_block", start_block.base64()},
                {"size", size.base64()},         {"stack", stack.base64()}};

  std::vector<std::uint64_t> ev, live, free, run;
  std::vector<std::uint8_t> coll;
  for (const trace::TimelinePoint& p : d.timeline.points) {
    ev.push_back(p.event);
    live.push_back(p.live_blocks);
    free.push_back(p.free_blocks);
    run.push_back(p.largest_free_run);
    coll.push_back(p.collection ? 1 : 0);
  }
  j["timeline"] = {{"count", d.timeline.points.size()}, {"decimated", d.timeline.decimated},
                   {"event", u32_column(ev)},           {"live", u32_column(live)},
                   {"free", u32_column(free)},          {"run", u32_column(run)},
                   {"collection", u8_column(coll)}};
  return j;
}

Json snapshots_json(const std::vector<SnapshotSummary>& snapshots) {
  // One string table for types and retainer hops across all snapshots: a sequence repeats them.
  // A retainer path is a chain of hops (`parent` is an object's index + 1, 0 for one a root
  // holds), not a string per object: written out whole, paths are quadratic in a chain's length.
  Json strings = Json::array();
  std::unordered_map<std::string, std::uint64_t> index;
  auto intern = [&](const std::string& s) {
    auto [it, added] = index.try_emplace(s, index.size());
    if (added) strings.push_back(s);
    return it->second;
  };
  intern("");
  Json list = Json::array();
  for (const SnapshotSummary& s : snapshots) {
    Json x;
    x["label"] = s.label;
    x["time_ms"] = s.time_ms ? Json(*s.time_ms) : Json(nullptr);
    Json areas = Json::array();
    for (const SnapshotArea& a : s.areas)
      areas.push_back({fmt::format("{:#x}", a.pool_start), a.blocks});
    x["areas"] = std::move(areas);
    x["totals"] = {{"used", s.totals.used}, {"free", s.totals.free}, {"total", s.totals.total}};
    x["largest_free_run"] = s.largest_free_run;
    Json hist = Json::array();
    for (const auto& [length, count] : s.free_histogram) hist.push_back({length, count});
    x["free_histogram"] = std::move(hist);
    std::vector<std::uint64_t> block, blocks, retained, type, parent, hop;
    std::vector<std::uint8_t> garbage;
    std::vector<std::uint64_t> page_string;  // the summary's string index -> the page's
    page_string.reserve(s.strings.size());
    for (const std::string& text : s.strings) page_string.push_back(intern(text));
    for (const SnapshotObject& o : s.objects) {
      block.push_back(o.block);
      blocks.push_back(o.blocks);
      retained.push_back(o.retained_bytes);
      type.push_back(page_string[o.type]);
      parent.push_back(o.parent < s.objects.size() ? std::uint64_t{o.parent} + 1 : 0);
      hop.push_back(page_string[o.hop]);
      garbage.push_back(o.garbage ? 1 : 0);
    }
    x["objects"] = {{"count", s.objects.size()},    {"block", u32_column(block)},
                    {"blocks", u32_column(blocks)}, {"retained", u32_column(retained)},
                    {"type", u32_column(type)},     {"parent", u32_column(parent)},
                    {"hop", u32_column(hop)},       {"garbage", u8_column(garbage)}};
    list.push_back(std::move(x));
  }
  return {{"strings", std::move(strings)}, {"list", std::move(list)}};
}

// Replaces the first occurrence of `marker` at or after `*from` and moves `*from` past the
// inserted text, so inserted text is never searched for later markers.
void fill(std::string& page, std::size_t* from, std::string_view marker, std::string_view text) {
  auto at = page.find(marker, *from);
  if (at == std::string::npos) return;
  page.replace(at, marker.size(), text);
  *from = at + text.size();
}

}  // namespace

std::string base64(const void* data, std::size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = static_cast<const unsigned char*>(data);
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < size) {
    std::uint32_t v = std::uint32_t{p[i]} << 16;
    if (i + 1 < size) v |= std::uint32_t{p[i + 1]} << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < size ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string html_report_data_json(const HtmlReportInput& input) {
  Json j;
  j["version"] = 3;
  j["title"] = input.title;
  j["block_size"] = input.block_size;
  j["trace_file"] = input.trace_file;
  j["trace"] = input.trace ? trace_json(*input.trace) : Json(nullptr);
  j["snapshots"] = input.snapshots.empty() ? Json(nullptr) : snapshots_json(input.snapshots);
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string html_report(const HtmlReportInput& input) {
  std::string data = html_report_data_json(input);
  // Inside <script>: no "</script" or "<!--" may appear; '<' only occurs inside JSON strings,
  // where \u003c means the same.
  std::string safe;
  safe.reserve(data.size());
  for (char c : data) {
    if (c == '<')
      safe += "\\u003c";
    else
      safe += c;
  }
  std::string page = web::joined(web::kReportHtml);
  // The template has them in this order.
  std::size_t from = 0;
  std::string title;
  append_xml_text(title, input.title);
  fill(page, &from, "@MPHEAP_TITLE@", title);
  fill(page, &from, "/*@MPHEAP_CSS@*/", web::joined(web::kReportCss));
  fill(page, &from, "@MPHEAP_DATA@", safe);
  fill(page, &from, "/*@MPHEAP_JS@*/", web::joined(web::kReportJs));
  return page;
}

}  // namespace mpheap::report
