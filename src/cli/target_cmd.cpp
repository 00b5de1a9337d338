// `mpheap target`: read a firmware description (ELF, map/nm + RAM dump, or target.json),
// print what was found, and save it as target.json.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/target_options.h"
#include "mpheap/report/output.h"
#include "mpheap/report/target_report.h"
#include "mpheap/target/target_json.h"

namespace mpheap::cli {
namespace {

struct TargetCmdArgs {
  TargetArgs target;
  std::string output;
  bool json = false;
};

int run_target(const TargetCmdArgs& a) {
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
      "Without DWARF (a map or nm output) the struct layouts are found in the RAM dump by the "
      "shape of MicroPython's structures; the summary lists the evidence for each. See "
      "docs/target.md.");
  add_target_options(cmd, args->target);
  cmd->add_option("-o,--output", args->output,
                  "write the description as target.json ('-' = stdout)");
  cmd->add_flag("--json", args->json, "print the description as JSON instead of the summary");
  cmd->callback([args, status] { *status = run_target(*args); });
}

}  // namespace mpheap::cli
