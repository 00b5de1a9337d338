// `mpheap target`: read a firmware description (ELF, map/nm + RAM dump, firmware image, or
// target.json), print what was found, and save it as target.json; with RAM dumps alone, find
// the heap in them and print its geometry with the evidence.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/target_options.h"
#include "mpheap/report/output.h"
#include "mpheap/report/target_report.h"
#include "mpheap/target/target_json.h"

namespace mpheap::cli {
namespace {

struct TargetCmdArgs {
  session::TargetSource target;
  std::string output;
  bool json = false;
  std::optional<std::uint32_t> word_size;  // the RAM-only search: 4 or 8, default both
  bool big_endian = false;
};

// `mpheap target --ram DUMP@ADDR...` without a firmware description.
int run_ram_search(const TargetCmdArgs& a) {
  const session::TargetSource& t = a.target;
  if (!a.output.empty() || a.json || !t.qstrs.empty() || !t.load_bias.empty() || t.block_size ||
      !t.base.empty()) {
    fmt::print(stderr,
               "mpheap target: with RAM dumps alone only the heap is found: -o, --json, --qstrs, "
               "--load-bias, --block-size and --base need a firmware description (--elf, "
               "--map/--nm, --target or --firmware)\n");
    return 2;
  }
  io::MemoryImage ram;
  for (const std::string& spec : t.ram) {
    if (auto added = io::add_placed_file(ram, spec); !added) {
      fmt::print(stderr, "mpheap target: {}\n", added.error().message());
      return 1;
    }
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
  fmt::print("{}", report::ram_heap_summary(found.front()));
  return 0;
}

int run_target(const TargetCmdArgs& a) {
  if (!a.target.given() && !a.target.ram.empty()) return run_ram_search(a);
  if (a.word_size || a.big_endian) {
    fmt::print(stderr,
               "mpheap target: --word-size and --big-endian are for the search in RAM dumps alone "
               "(--ram without --elf, --map/--nm, --target or --firmware)\n");
    return 2;
  }
  auto loaded = session::load_target(a.target);
  if (!loaded) {
    fmt::print(stderr, "mpheap target: {}\n", loaded.error().message());
    return exit_status(loaded.error());
  }
  for (const std::string& n : loaded->notes) fmt::print(stderr, "mpheap target: note: {}\n", n);
  const target::Target& t = loaded->target;
  if (!a.output.empty()) {
    if (auto written = report::write_text_file(a.output, target::to_json(t)); !written) {
      fmt::print(stderr, "mpheap target: {}\n", written.error().message());
      return 1;
    }
    if (!t.state.mem_area && !t.mp_state_ctx)
      fmt::print(stderr,
                 "mpheap target: note: {} has no heap layout (no RAM dump was given): `mpheap "
                 "heap` needs the image with a dump then; pass --ram DUMP@ADDR to write one that "
                 "has it\n",
                 a.output);
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
