// The options that describe a firmware, shared by the subcommands that need one.
#include "cli/target_options.h"

namespace mpheap::cli {
void add_target_options(CLI::App* cmd, session::TargetSource& a) {
  const char* group = "Firmware description (one of --elf, --map/--nm, --target, --firmware)";
  cmd->add_option("--elf", a.elf, "the firmware's ELF file with debug information (DWARF)")
      ->group(group);
  cmd->add_option("--map", a.map, "the GNU ld map file of the build (-Wl,-Map=...)")->group(group);
  cmd->add_option("--nm", a.nm, "`nm -S --defined-only` output of the build")->group(group);
  cmd->add_option("--target", a.target_json, "a target.json written by `mpheap target -o`")
      ->group(group);
  cmd->add_option("--firmware", a.firmware,
                  "the firmware image alone (Intel HEX, UF2, WebAssembly .wasm, an ELF read by "
                  "its program headers, an ELF inside a container, or a raw .bin whose load "
                  "address is inferred unless --base gives it): qstrs, type objects, version "
                  "and, with --ram, the heap are found by their shapes")
      ->group(group);
  cmd->add_option("--base", a.base,
                  "load address of a raw --firmware .bin (e.g. 0x08000000; default: inferred "
                  "from the image's pointers to its own strings, checked by its qstr pools)")
      ->group(group);
  cmd->add_option("--qstrs", a.qstrs,
                  "ROM qstrs: one per line in index order, 'index hash len string' columns, or "
                  "qstrdefs.generated.h (not with --firmware: the image's own pools are read)")
      ->group(group);
  cmd->add_option("--ram", a.ram,
                  "a RAM dump placed at its address, FILE@ADDR (repeatable); with --map/--nm the "
                  "struct layouts are found in it")
      ->group(group);
  cmd->add_option("--load-bias", a.load_bias,
                  "run-time minus link-time addresses of a position-independent build (default: "
                  "inferred from a dump of exactly mp_state_ctx)")
      ->group(group);
  cmd->add_option("--block-size", a.block_size,
                  "bytes per GC block (default: from the dump or 4 words)")
      ->group(group);
}

}  // namespace mpheap::cli
