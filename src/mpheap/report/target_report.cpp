// Text summary of a target description.
#include "mpheap/report/target_report.h"

#include <fmt/format.h>

namespace mpheap::report {
namespace {

// One "label        value" line of a summary.
void put_line(std::string& out, std::string_view label, const std::string& value) {
  fmt::format_to(std::back_inserter(out), "{:<13}{}\n", label, value);
}

void field(std::string& out, const char* name, const target::Offset& o) {
  if (o) fmt::format_to(std::back_inserter(out), "  {:<28} +{}\n", name, *o);
}

}  // namespace

std::string target_summary(const target::Target& t, const target::LayoutFindings* f) {
  std::string out;
  auto put = [&](std::string_view label, const std::string& value) { put_line(out, label, value); };
  put("target", fmt::format("{}{}-bit {} endian, {}-byte GC blocks",
                            t.machine.empty() ? "" : t.machine + ", ", t.word_size * 8,
                            t.little_endian ? "little" : "big", t.block_size));
  const target::FirmwareFacts& fw = t.firmware;
  if (!fw.cpu.empty()) put("cpu", fw.cpu);
  if (fw.load_address)
    put("load address", fmt::format("0x{:08x} ({})", *fw.load_address, fw.load_address_source));
  if (!fw.version_source.empty())
    put("version",
        fw.micropython_version.empty()
            ? fmt::format("MicroPython version {}", fw.version_source)
            : fmt::format("{}{} (from {})",
                          fw.micropython_version.starts_with("MicroPython") ? "" : "MicroPython ",
                          fw.micropython_version, fw.version_source));
  if (!fw.banner.empty()) put("banner", fw.banner);
  put("symbols", fmt::format("{} (from {})", t.symbols.size(), t.provenance.symbols));
  put("mp_state_ctx", t.mp_state_ctx
                          ? fmt::format("0x{:x} ({} bytes)", *t.mp_state_ctx, t.state.size)
                          : std::string("not found"));
  put("layout", t.provenance.layout.empty() ? std::string("unknown") : t.provenance.layout);
  field(out, "mp_state_ctx.mem.area", t.state.mem_area);
  field(out, "mp_state_ctx.vm.last_pool", t.state.vm_last_pool);
  field(out, "mp_state_ctx.vm.dict_main", t.state.vm_dict_main);
  field(out, "mp_state_ctx.vm.mp_loaded_modules_dict", t.state.vm_mp_loaded_modules_dict);
  field(out, "mp_state_ctx.thread.stack_top", t.state.thread_stack_top);
  field(out, "mp_state_ctx.thread.pystack_start", t.state.thread_pystack_start);
  field(out, "mp_state_ctx.thread.pystack_cur", t.state.thread_pystack_cur);
  const target::AreaLayout& a = t.state.area;
  field(out, "area.next", a.next);
  field(out, "area.gc_alloc_table_start", a.gc_alloc_table_start);
  field(out, "area.gc_alloc_table_byte_len", a.gc_alloc_table_byte_len);
  field(out, "area.gc_finaliser_table_start", a.gc_finaliser_table_start);
  field(out, "area.gc_weakref_table_start", a.gc_weakref_table_start);
  field(out, "area.gc_collect_table_start", a.gc_collect_table_start);
  field(out, "area.gc_pool_start", a.gc_pool_start);
  field(out, "area.gc_pool_end", a.gc_pool_end);
  if (t.qstr_pool.qstrs) {
    put("qstr pools",
        fmt::format("{}, {}-byte hashes, {}-byte lengths, strings at +{}",
                    !t.qstr_pool.lengths ? "hash/length bytes before each string"
                    : t.qstr_pool.hashes ? "hash and length arrays"
                                         : "a length array (no hashes)",
                    t.qstr_pool.hash_bytes, t.qstr_pool.len_bytes, *t.qstr_pool.qstrs));
  }
  put("ROM qstrs", t.rom_qstrs.empty()
                       ? std::string("none (shown as qstr#N; pass --qstrs)")
                       : fmt::format("{} ({})", t.rom_qstrs.size(), t.provenance.qstrs));
  put("type objects", fmt::format("{}", t.types.size()));
  for (const target::MemoryRegion& r : t.regions)
    put("region", fmt::format("{:<10} {:<6} 0x{:x}..0x{:x} ({} bytes)", r.name, to_string(r.kind),
                              r.start, r.end, r.end - r.start));
  if (f != nullptr) {
    if (f->load_bias != 0) put("load bias", fmt::format("0x{:x}", f->load_bias));
    std::uint64_t total_blocks = 0;
    for (std::size_t i = 0; i < f->areas.size(); ++i) {
      const auto& h = f->areas[i];
      total_blocks += h.blocks();
      std::string tables =
          fmt::format("allocation table 0x{:x} ({} bytes)", h.alloc_table, h.alloc_table_bytes);
      if (h.finaliser_table) tables += fmt::format(", finaliser 0x{:x}", *h.finaliser_table);
      if (h.weakref_table) tables += fmt::format(", weakref 0x{:x}", *h.weakref_table);
      if (h.collect_table) tables += fmt::format(", collect 0x{:x}", *h.collect_table);
      put(fmt::format("heap area {}", i + 1),
          fmt::format("pool 0x{:x}..0x{:x} ({} bytes, {} blocks); {}", h.pool_start, h.pool_end,
                      h.pool_end - h.pool_start, h.blocks(), tables));
    }
    if (!f->areas.empty())
      put("heap",
          fmt::format("{} area{}, {} blocks = {} bytes", f->areas.size(),
                      f->areas.size() == 1 ? "" : "s", total_blocks, total_blocks * t.block_size));
    if (f->last_pool)
      put("last_pool",
          fmt::format("0x{:x} ({})", *f->last_pool, t.describe(*f->last_pool - f->load_bias)));
    for (const std::string& e : f->evidence) put("evidence", e);
  }
  return out;
}

std::string ram_heap_summary(const target::RamHeapFindings& f) {
  std::string out;
  auto put = [&](std::string_view label, const std::string& value) { put_line(out, label, value); };
  put("heap", "found in the RAM dumps alone (no firmware image, no symbols)");
  put("words",
      fmt::format("{}-bit {} endian", f.word_size * 8, f.little_endian ? "little" : "big"));
  put("block size", fmt::format("{} bytes", f.block_size));
  std::string tables = "allocation";
  for (const std::string& t : f.tables) tables += ", " + t;
  put("tables", tables);
  std::uint64_t blocks = 0;
  for (std::size_t i = 0; i < f.areas.size(); ++i) {
    const target::HeapAreaBounds& h = f.areas[i];
    blocks += h.blocks();
    std::string extra;
    if (h.finaliser_table) extra += fmt::format(", finaliser 0x{:x}", *h.finaliser_table);
    if (h.weakref_table) extra += fmt::format(", weakref 0x{:x}", *h.weakref_table);
    if (h.collect_table) extra += fmt::format(", collect 0x{:x}", *h.collect_table);
    put(fmt::format("heap area {}", i + 1),
        fmt::format("pool 0x{:x}..0x{:x} ({} bytes, {} blocks); allocation table 0x{:x} ({} "
                    "bytes){}; record 0x{:x}{}",
                    h.pool_start, h.pool_end, h.pool_end - h.pool_start, h.blocks(), h.alloc_table,
                    h.alloc_table_bytes, extra, h.record,
                    f.split ? fmt::format(", next 0x{:x}", h.next) : ""));
  }
  put("heap", fmt::format("{} area{}{}, {} blocks = {} bytes", f.areas.size(),
                          f.areas.size() == 1 ? "" : "s", f.split ? " (split heap)" : "", blocks,
                          blocks * f.block_size));
  for (const std::string& e : f.evidence) put("evidence", e);
  put("note",
      "mp_state_ctx, qstrs and types need the firmware: add --firmware IMAGE, --elf or --map/--nm");
  return out;
}

}  // namespace mpheap::report
