// `mpheap target`: read a firmware description (ELF, map/nm + RAM dump, firmware image, or
// target.json), print what was found, and save it as target.json; with RAM dumps alone, find
// the heap in them and print its geometry with the evidence.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/target_options.h"
#include "mpheap/report/output.h"
#include "mpheap/report/target_report.h"
#include "mpheap/target/ram_heap_search.h"
#include "mpheap/target/target_json.h"

namespace mpheap::cli {
namespace {

struct TargetCmdArgs {
  TargetArgs target;
  std::string output;
  bool json = false;
  std::optional<std::uint32_t> word_size;  // the RAM-only search: 4 or 8, default both
  bool big_endian = false;
};

std::string ram_heap_summary(const target::RamHeapFindings& f) {
  std::string out;
  auto put = [&](std::string_view label, const std::string& value) {
    fmt::format_to(std::back_inserter(out), "{:<13}{}\n", label, value);
  };
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

// `mpheap target --ram DUMP@ADDR...` without a firmware description.
int run_ram_search(const TargetCmdArgs& a) {
  const TargetArgs& t = a.target;
  if (!a.output.empty() || a.json || !t.qstrs.empty() || !t.load_bias.empty() || t.block_size ||
      !t.base.empty()) {
    fmt::print(stderr,
               "mpheap target: with RAM dumps alone only the heap is found: -o, --json, --qstrs, "
               "--load-bias, --block-size and --base need a firmware description (--elf, "
               "--map/--nm, --target or --firmware)\n");
    return 1;
  }
  io::MemoryImage ram;
  for (const std::string& spec : t.ram) {
    auto placed = io::parse_placed_file(spec);
    auto range = placed ? io::load_placed_file(*placed) : Expected<io::MemoryRange>(placed.error());
    if (!range) {
      fmt::print(stderr, "mpheap target: {}\n", range.error().message());
      return 1;
    }
    ram.add(std::move(*range));
  }
  std::vector<std::uint32_t> sizes =
      a.word_size ? std::vector<std::uint32_t>{*a.word_size} : std::vector<std::uint32_t>{4, 8};
  std::vector<target::RamHeapFindings> found;
  std::vector<std::string> tried;
  for (std::uint32_t w : sizes) {
    auto f = target::find_heap_areas_in_ram(ram, w, !a.big_endian);
    if (f) {
      found.push_back(std::move(*f));
    } else {
      tried.push_back(f.error().what);
    }
  }
  if (found.size() > 1) {
    fmt::print(stderr,
               "mpheap target: a heap fits both as 32-bit and as 64-bit words ({} blocks of {} "
               "bytes at 0x{:x}, {} blocks of {} bytes at 0x{:x}): pass --word-size\n",
               found[0].areas[0].blocks(), found[0].block_size, found[0].areas[0].pool_start,
               found[1].areas[0].blocks(), found[1].block_size, found[1].areas[0].pool_start);
    return 1;
  }
  if (found.empty()) {
    fmt::print(stderr, "mpheap target: heap not found in the RAM dumps\n");
    for (const std::string& e : tried) fmt::print(stderr, "  {}\n", e);
    return 1;
  }
  fmt::print("{}", ram_heap_summary(found.front()));
  return 0;
}

int run_target(const TargetCmdArgs& a) {
  if (!a.target.given() && !a.target.ram.empty()) return run_ram_search(a);
  if (a.word_size || a.big_endian) {
    fmt::print(stderr,
               "mpheap target: --word-size and --big-endian are for the search in RAM dumps alone "
               "(--ram without --elf, --map/--nm, --target or --firmware)\n");
    return 1;
  }
  auto loaded = load_target(a.target);
  if (!loaded) {
    fmt::print(stderr, "mpheap target: {}\n", loaded.error().message());
    return 1;
  }
  for (const std::string& n : loaded->notes) fmt::print(stderr, "mpheap target: note: {}\n", n);
  const target::Target& t = loaded->target;
  if (!a.output.empty()) {
    if (auto written = report::write_text_file(a.output, target::to_json(t)); !written) {
      fmt::print(stderr, "mpheap target: {}\n", written.error().message());
      return 1;
    }
    if (a.output == "-") return 0;
  }
  if (a.json) {
    fmt::print("{}", target::to_json(t));
    return 0;
  }
  fmt::print("{}", report::target_summary(t, loaded->findings ? &*loaded->findings : nullptr));
  if (!a.output.empty()) fmt::print("written      {}\n", a.output);
  return 0;
}

}  // namespace

void add_target_command(CLI::App& app, int* status) {
  auto args = std::make_shared<TargetCmdArgs>();
  CLI::App* cmd = app.add_subcommand(
      "target",
      "Describe a firmware build (word size, block size, symbols, mp_state_ctx and heap layout, "
      "ROM qstrs, type objects) from its ELF, or from its linker map / nm output plus a RAM dump; "
      "save it as target.json to pass with --target everywhere.");
  cmd->footer(
      "Examples:\n"
      "  mpheap target --elf firmware.elf -o target.json\n"
      "  mpheap target --map firmware.map --nm firmware.nm --qstrs qstrs.txt --ram "
      "ram.bin@0x20000000 -o target.json\n"
      "  mpheap target --target target.json --ram ram.bin@0x20000000\n"
      "  mpheap target --ram ram.bin@0x20000000\n"
      "With --ram alone (no firmware description) the heap areas, block size and tables are "
      "found in the dumps by the shape of the heap area record, and printed with the evidence; "
      "a clear error lists what was tried when nothing (or more than one heap) fits.\n"
      "Without DWARF (a map or nm output) the struct layouts are found in the RAM dump by the "
      "shape of MicroPython's structures; the summary lists the evidence for each. See "
      "docs/target.md.");
  add_target_options(cmd, args->target);
  cmd->add_option("-o,--output", args->output,
                  "write the description as target.json ('-' = stdout)");
  cmd->add_flag("--json", args->json, "print the description as JSON instead of the summary");
  const char* ram_only = "Heap search in RAM dumps alone (--ram without a firmware description)";
  cmd->add_option("--word-size", args->word_size,
                  "bytes per word of the firmware's target (4 or 8; default: try both)")
      ->check(CLI::IsMember({4, 8}))
      ->group(ram_only);
  cmd->add_flag("--big-endian", args->big_endian, "the target is big endian (default: little)")
      ->group(ram_only);
  cmd->callback([args, status] { *status = run_target(*args); });
}

}  // namespace mpheap::cli
