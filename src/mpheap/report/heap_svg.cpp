// SVG block map: written by hand (no graphviz), one <rect> per block so the picture is exact.
#include "mpheap/report/heap_svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "mpheap/heap/graph.h"
#include "mpheap/report/output.h"

namespace mpheap::report {
namespace {

constexpr int kMargin = 10;
constexpr int kAreaHeader = 18;  // the area's caption above its cells
constexpr int kLegendRow = 16;

std::string hsl_hex(double h, double s, double l) {
  double c = (1 - std::fabs(2 * l - 1)) * s;
  double hp = h / 60.0;
  double x = c * (1 - std::fabs(std::fmod(hp, 2.0) - 1));
  double r = 0, g = 0, b = 0;
  if (hp < 1) {
    r = c, g = x;
  } else if (hp < 2) {
    r = x, g = c;
  } else if (hp < 3) {
    g = c, b = x;
  } else if (hp < 4) {
    g = x, b = c;
  } else if (hp < 5) {
    r = x, b = c;
  } else {
    r = c, b = x;
  }
  double m = l - c / 2;
  auto byte = [&](double v) { return static_cast<unsigned>(std::lround((v + m) * 255.0)); };
  return fmt::format("#{:02x}{:02x}{:02x}", byte(r), byte(g), byte(b));
}

}  // namespace

std::string heap_type_colour(std::string_view type) {
  static const std::map<std::string_view, const char*> kFixed = {
      {"str", "#e9b96e"},        {"bytes", "#c17d11"},      {"bytearray", "#f57900"},
      {"dict", "#3465a4"},       {"list", "#4e9a06"},       {"tuple", "#8ae234"},
      {"set", "#06989a"},        {"int", "#cc0000"},        {"float", "#ef2929"},
      {"function", "#ad7fa8"},   {"closure", "#75507b"},    {"generator", "#5c3566"},
      {"module", "#729fcf"},     {"type", "#fce94f"},       {"str data", "#d3b580"},
      {"list items", "#73a946"}, {"dict table", "#6a8cc0"}, {"qstr pool", "#b0a070"},
      {"qstr chunk", "#c8b888"}, {"unknown", "#babdb6"}};
  if (auto it = kFixed.find(type); it != kFixed.end()) return it->second;
  std::uint32_t h = 2166136261u;  // FNV-1a
  for (char c : type) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  // Hue, saturation and lightness from different bits, so similar hues still differ.
  return hsl_hex(static_cast<double>(h % 360), 0.45 + 0.15 * static_cast<double>((h >> 12) % 3),
                 0.40 + 0.12 * static_cast<double>((h >> 20) % 3));
}

std::string heap_svg(const heap::Snapshot& s, const target::Target& t,
                     const HeapSvgOptions& options) {
  const std::uint64_t cols = options.columns == 0 ? 64 : options.columns;
  const std::uint64_t cell = options.cell < 2 ? 2 : options.cell;
  const std::uint64_t grid_w = cols * cell;
  const std::uint64_t width = std::max<std::uint64_t>(grid_w + 2 * kMargin, 640);  // the title
  const std::uint64_t bs = t.block_size;

  // Legend: type -> (objects, blocks), in name order.
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> legend;
  std::uint64_t free_blocks = 0, unowned_blocks = 0;

  std::string body;
  std::uint64_t y = kMargin + 20;  // below the title
  for (std::size_t ai = 0; ai < s.areas.size(); ++ai) {
    const heap::AreaSnapshot& a = s.areas[ai];
    const std::uint64_t n = a.kinds.size();
    const std::uint64_t rows = (n + cols - 1) / cols;
    fmt::format_to(std::back_inserter(body),
                   "<g class=\"area\" data-area=\"{}\" data-blocks=\"{}\">\n<text x=\"{}\" "
                   "y=\"{}\" class=\"cap\">area {}: 0x{:x}..0x{:x}, {} blocks of {} bytes</text>\n",
                   ai, n, kMargin, y + 12, ai, a.bounds.pool_start, a.bounds.pool_end, n, bs);
    y += kAreaHeader;
    fmt::format_to(std::back_inserter(body),
                   "<rect class=\"bound\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>\n",
                   kMargin - 1, y - 1, grid_w + 1, rows * cell + 1);
    std::uint64_t next_obj = a.first_object;
    const std::uint64_t end_obj = a.first_object + a.object_count;
    std::uint64_t bl = 0;
    auto cells = [&](std::uint64_t from, std::uint64_t to, std::string_view fill) {
      for (std::uint64_t b = from; b < to; ++b)
        fmt::format_to(std::back_inserter(body),
                       "<rect class=\"blk\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" "
                       "fill=\"{}\"/>",
                       kMargin + (b % cols) * cell, y + (b / cols) * cell, cell - 1, cell - 1,
                       fill);
    };
    while (bl < n) {
      while (next_obj < end_obj && s.objects[next_obj].block < bl) ++next_obj;
      if (a.kinds[bl] == heap::BlockKind::free) {
        std::uint64_t e = bl;
        while (e < n && a.kinds[e] == heap::BlockKind::free) ++e;
        fmt::format_to(std::back_inserter(body),
                       "<g class=\"free\"><title>free: {} block{} = {} bytes at 0x{:x}</title>",
                       e - bl, e - bl == 1 ? "" : "s", (e - bl) * bs,
                       a.bounds.pool_start + bl * bs);
        cells(bl, e, kFreeBlockColour);
        body += "</g>\n";
        free_blocks += e - bl;
        bl = e;
      } else if (next_obj < end_obj && s.objects[next_obj].block == bl) {
        const heap::HeapObject& o = s.objects[next_obj];
        std::uint64_t e = std::min<std::uint64_t>(n, bl + std::max<std::uint64_t>(o.blocks, 1));
        std::string type = heap::object_type_label(s, o);
        std::string colour = heap_type_colour(type);
        body += "<g class=\"obj\" data-type=\"";
        append_xml_text(body, type);
        body += "\"><title>";
        fmt::format_to(std::back_inserter(body), "0x{:x} ", o.address);
        append_xml_text(body, type);
        if (const std::string& class_name = s.class_name(o);
            !class_name.empty() && class_name != type) {
          body += " ";
          append_xml_text(body, class_name);
        }
        fmt::format_to(std::back_inserter(body), ", {} block{} = {} bytes</title>", e - bl,
                       e - bl == 1 ? "" : "s", (e - bl) * bs);
        cells(bl, e, colour);
        body += "</g>\n";
        auto& entry = legend[type];
        ++entry.first;
        entry.second += e - bl;
        bl = e;
        ++next_obj;
      } else {
        // A tail (or head) the decoder could not attribute to an object.
        fmt::format_to(std::back_inserter(body),
                       "<g class=\"unowned\"><title>0x{:x}: block without a decoded object "
                       "head</title>",
                       a.bounds.pool_start + bl * bs);
        cells(bl, bl + 1, kUnownedBlockColour);
        body += "</g>\n";
        ++unowned_blocks;
        ++bl;
      }
    }
    body += "</g>\n";
    y += rows * cell + kMargin;
  }

  // Legend rows: colour key, type, objects, blocks.
  std::string keys;
  auto key = [&](std::string_view cls, std::string_view type, std::string_view colour,
                 const std::string& text) {
    fmt::format_to(std::back_inserter(keys),
                   "<g class=\"{}\"><rect class=\"key\" x=\"{}\" y=\"{}\" width=\"10\" "
                   "height=\"10\" fill=\"{}\" data-type=\"",
                   cls, kMargin, y, colour);
    append_xml_text(keys, type);
    fmt::format_to(std::back_inserter(keys), "\"/><text x=\"{}\" y=\"{}\">", kMargin + 16, y + 9);
    append_xml_text(keys, text);
    keys += "</text></g>\n";
    y += kLegendRow;
  };
  y += 4;
  for (const auto& [type, c] : legend)
    key("legend", type, heap_type_colour(type),
        fmt::format("{}: {} object{}, {} blocks", type, c.first, c.first == 1 ? "" : "s",
                    c.second));
  key("legend-free", "free", kFreeBlockColour, fmt::format("free: {} blocks", free_blocks));
  if (unowned_blocks > 0)
    key("legend-unowned", "no object", kUnownedBlockColour,
        fmt::format("no decoded object: {} blocks", unowned_blocks));
  y += kMargin;

  std::string out;
  out.reserve(body.size() + keys.size() + 1024);
  fmt::format_to(std::back_inserter(out),
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
                 "viewBox=\"0 0 {} {}\" font-family=\"monospace\" font-size=\"11\">\n"
                 "<style>.cap{{font-weight:bold}} .bound{{fill:none;stroke:#444;"
                 "stroke-width:1}} .blk:hover{{stroke:#000}}</style>\n"
                 "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n<text x=\"{}\" "
                 "y=\"{}\" class=\"cap\">",
                 width, y, width, y, kMargin, kMargin + 10);
  append_xml_text(out, options.title.empty() ? std::string("heap snapshot") : options.title);
  fmt::format_to(std::back_inserter(out), " ({} areas, {} blocks, {} objects)</text>\n",
                 s.areas.size(), s.totals.blocks, s.objects.size());
  out += body;
  out += keys;
  out += "</svg>\n";
  return out;
}

}  // namespace mpheap::report
