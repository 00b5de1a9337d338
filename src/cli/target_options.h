// The options every subcommand that needs a firmware description accepts:
// --elf F | --map M [--nm N] | --nm N | --target T | --firmware IMAGE [--base ADDR], with --qstrs,
// --ram, --load-bias, --block-size. They fill a session::TargetSource.
#pragma once

#include <CLI/CLI.hpp>

#include "mpheap/session/target_source.h"

namespace mpheap::cli {

void add_target_options(CLI::App* cmd, session::TargetSource& source);

}  // namespace mpheap::cli
