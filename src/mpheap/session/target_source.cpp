// Loading a target description from whichever source the user gave.
#include "mpheap/session/target_source.h"

#include <fmt/format.h>

#include "mpheap/io/file.h"
#include "mpheap/io/firmware_image.h"
#include "mpheap/target/from_elf.h"
#include "mpheap/target/from_image.h"
#include "mpheap/target/from_map.h"
#include "mpheap/target/heap_growth.h"
#include "mpheap/target/target_json.h"
#include "mpheap/util/number.h"

namespace mpheap::session {
namespace {

Expected<std::uint64_t> parse_number(const std::string& s, const char* option) {
  if (auto v = parse_uint(s)) return *v;
  return Error{option, 0, 0, fmt::format("expected a number (0x... or decimal), found '{}'", s)};
}

}  // namespace

Expected<LoadedTarget> load_target(const TargetSource& a, io::MemoryImage extra) {
  LoadedTarget out;
  out.ram = std::move(extra);
  int sources = (!a.elf.empty() ? 1 : 0) + (!a.target_json.empty() ? 1 : 0) +
                (!a.map.empty() || !a.nm.empty() ? 1 : 0) + (!a.firmware.empty() ? 1 : 0);
  if (sources == 0)
    return error_of(
        ErrorKind::usage, "",
        "a firmware description is needed: pass --elf FILE, --map FILE and/or --nm FILE, "
        "--target FILE, or --firmware IMAGE");
  if (!a.firmware.empty() && sources > 1)
    return error_of(ErrorKind::usage, "", "--firmware is a description on its own: pass it alone");
  if (!a.base.empty() && a.firmware.empty())
    return error_of(ErrorKind::usage, "", "--base is the load address of a raw --firmware image");
  if (!a.qstrs.empty() && !a.firmware.empty())
    return error_of(ErrorKind::usage, "--qstrs",
                    "not used with --firmware: the ROM qstrs are read from the image's own qstr "
                    "pools (and type names come from them); leave --qstrs out, or describe the "
                    "firmware with --map/--nm or --elf to use a qstr list");
  if (sources > 1 && a.elf.empty())
    return error_of(ErrorKind::usage, "", "pass only one of --target and --map/--nm");
  // The word size is not known yet: the smallest one bounds the option here; check_target
  // checks the block size against the target's word size at the end.
  if (a.block_size && !target::block_size_fits(*a.block_size, 4))
    return error_of(ErrorKind::usage, "--block-size",
                    fmt::format("expected a power of two from 4 to 4096 bytes "
                                "(MICROPY_BYTES_PER_GC_BLOCK; 4 words by default), found {}",
                                *a.block_size));

  for (const std::string& spec : a.ram)
    if (auto added = io::add_placed_file(out.ram, spec); !added) return added.error();
  std::optional<std::uint64_t> bias;
  if (!a.load_bias.empty()) {
    auto b = parse_number(a.load_bias, "--load-bias");
    if (!b) return b.error();
    bias = *b;
  }

  bool layout_known = false;
  bool from_image = false;
  if (!a.firmware.empty()) {
    std::optional<std::uint64_t> base;
    if (!a.base.empty()) {
      auto b = parse_number(a.base, "--base");
      if (!b) return b.error();
      base = *b;
    }
    auto bytes = io::read_whole_file(a.firmware);
    if (!bytes) return bytes.error();
    auto found = target::read_image_file_target(*bytes, a.firmware, base,
                                                out.ram.ranges().empty() ? nullptr : &out.ram);
    if (!found) return found.error();
    // A wasm module is the WebAssembly port's: what it does when the heap runs out.
    const target::PortHeapFacts* port = target::port_heap_facts("webassembly");
    if (io::detect_image_format(*bytes) == io::ImageFormat::wasm &&
        found->target.gc_split_heap_auto && port) {
      found->target.gc_max_new_split = port->max_new_split;
      found->target.gc_collect_deferred = port->collect_deferred;
      found->evidence.push_back(fmt::format(
          "a WebAssembly module: MicroPython's webassembly port, whose gc_get_max_new_split() "
          "is {} bytes (mem_info's `max new split`) and whose gc_collect() only schedules a "
          "collection for when control returns to JS (an allocation that fails grows the heap)",
          port->max_new_split));
    }
    out.target = std::move(found->target);
    target::LayoutFindings f = found->layout.value_or(target::LayoutFindings{});
    std::vector<std::string> evidence = std::move(found->evidence);
    evidence.insert(evidence.end(), f.evidence.begin(), f.evidence.end());
    f.evidence = std::move(evidence);
    if (found->layout) {
      out.findings = std::move(f);
      layout_known = true;
    } else {
      for (const std::string& e : f.evidence) out.notes.push_back(e);
    }
    from_image = true;
  }
  if (!a.elf.empty()) {
    target::ElfOptions options;
    options.block_size = a.block_size.value_or(0);
    auto t = target::read_elf_target(a.elf, options);
    if (t) {
      out.target = std::move(*t);
      layout_known = true;
    } else if (!a.map.empty() || !a.nm.empty()) {
      out.notes.push_back(fmt::format("{}; using --map/--nm instead", t.error().message()));
    } else {
      return t.error();
    }
  }
  if (!a.target_json.empty()) {
    auto text = io::read_whole_file(a.target_json);
    if (!text) return text.error();
    auto t = target::target_from_json(*text, a.target_json);
    if (!t) return t.error();
    out.target = std::move(*t);
    layout_known = out.target.state.mem_area.has_value();
    // A description written from an image alone knows no mp_state_ctx: nothing here can find
    // the heap's layout in a dump without the image.
    if (!layout_known && !out.target.mp_state_ctx && !out.ram.ranges().empty())
      return Error{a.target_json, 0, 0,
                   "has no mp_state_ctx and no heap layout (it was written from a firmware image "
                   "without a RAM dump): write it again with `mpheap target --firmware IMAGE --ram "
                   "DUMP@ADDR -o FILE`, or give --firmware IMAGE instead of --target"};
  }
  if (!layout_known && a.target_json.empty() && !from_image) {
    std::string map_text, nm_text;
    if (!a.map.empty()) {
      auto m = io::read_whole_file(a.map);
      if (!m) return m.error();
      map_text = std::move(*m);
    }
    if (!a.nm.empty()) {
      auto n = io::read_whole_file(a.nm);
      if (!n) return n.error();
      nm_text = std::move(*n);
    }
    auto t = target::read_map_target(map_text, a.map, nm_text, a.nm, "", "");
    if (!t) return t.error();
    out.target = std::move(*t);
  }
  if (!a.qstrs.empty()) {
    auto q = io::read_whole_file(a.qstrs);
    if (!q) return q.error();
    auto list = target::parse_qstr_list(*q, a.qstrs);
    if (!list) return list.error();
    out.target.rom_qstrs = std::move(*list);
    out.target.provenance.qstrs = fmt::format("list file {}", a.qstrs);
  }
  if (from_image) {
    if (!layout_known)
      out.notes.push_back(
          "the heap is not known from an image alone: give a RAM dump with --ram FILE@ADDR");
  } else if (!out.ram.ranges().empty()) {
    if (!layout_known) {
      out.without_layout = out.target;
      auto f = target::infer_layout(out.target, out.ram, bias);
      if (!f) return f.error();
      out.findings = std::move(*f);
    } else {
      target::LayoutFindings f;
      if (bias) {
        f.load_bias = *bias;
      } else if (auto b = target::infer_load_bias(out.target, out.ram)) {
        f.load_bias = *b;
      } else {
        return b.error();
      }
      f.areas = target::read_heap_areas(out.target, out.ram, f.load_bias);
      if (out.target.state.vm_last_pool)
        f.last_pool =
            out.ram.read(*out.target.mp_state_ctx + f.load_bias + *out.target.state.vm_last_pool,
                         out.target.word_size, out.target.little_endian);
      out.findings = std::move(f);
    }
  } else if (!layout_known) {
    out.notes.push_back(
        "struct layouts are unknown without DWARF: give a RAM dump with --ram FILE@ADDR so they "
        "can be found in it");
  }
  if (out.findings) {
    std::string e = target::settle_value_encoding(out.target, out.ram, out.findings->load_bias);
    if (!e.empty()) out.findings->evidence.push_back(std::move(e));
  }
  if (a.block_size) out.target.block_size = *a.block_size;
  const std::string& described_by = !a.target_json.empty() ? a.target_json
                                    : !a.elf.empty()       ? a.elf
                                    : !a.firmware.empty()  ? a.firmware
                                    : !a.map.empty()       ? a.map
                                                           : a.nm;
  if (auto ok = target::check_target(out.target, described_by); !ok) return ok.error();
  return out;
}

}  // namespace mpheap::session
