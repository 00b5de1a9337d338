// `mpheap mpy FILE.mpy|DIR ...`: reads .mpy files of any version; prints a size breakdown,
// the disassembly or JSON.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "mpheap/mpy/disasm.h"
#include "mpheap/mpy/reader.h"
#include "mpheap/mpy/sizes.h"
#include "mpheap/report/mpy_report.h"

namespace mpheap::cli {
namespace {

struct MpyArgs {
  std::vector<std::string> inputs;
  bool disasm = false;
  bool json = false;
  bool no_instructions = false;
  std::size_t top = 20;
};

// Expands directories into the .mpy files below them, sorted by path.
std::vector<std::string> expand(const std::vector<std::string>& inputs,
                                std::vector<Error>& errors) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<std::string> found;
      for (fs::recursive_directory_iterator it(in, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec) && it->path().extension() == ".mpy")
          found.push_back(it->path().string());
      if (ec) errors.push_back({in, 0, 0, "cannot list directory: " + ec.message()});
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(in);
    }
  }
  return files;
}

int run_mpy(const MpyArgs& a) {
  std::vector<Error> errors;
  std::vector<std::string> files = expand(a.inputs, errors);
  std::vector<mpy::FileSizes> sizes;
  // --disasm and --json are written file by file, in large chunks, as they are made.
  std::unique_ptr<report::Output> out;
  std::optional<report::MpyJsonStream> json;
  if (a.json || a.disasm) {
    auto o = report::Output::open("-");
    if (!o) {
      fmt::print(stderr, "mpheap mpy: {}\n", o.error().message());
      return 1;
    }
    out = std::move(*o);
    if (a.json) json.emplace(*out, !a.no_instructions);
  }
  std::size_t read = 0;
  for (const auto& path : files) {
    auto f = mpy::read_mpy_file(path);
    if (!f) {
      errors.push_back(f.error());
      fmt::print(stderr, "mpheap mpy: {}\n", f.error().message());
      continue;
    }
    ++read;
    if (json) {
      json->add(*f);
    } else if (a.disasm) {
      if (read > 1) out->buffer() += '\n';
      mpy::append_disassembly(out->buffer(), *f);
      out->maybe_flush();
    } else {
      sizes.push_back(mpy::size_breakdown(*f));
    }
  }
  if (json) json->finish(errors);
  if (out) {
    if (auto closed = out->close(); !closed) {
      fmt::print(stderr, "mpheap mpy: {}\n", closed.error().message());
      return 1;
    }
  } else if (!sizes.empty()) {
    fmt::print("{}", report::sizes_text(sizes, a.top));
  }
  if (files.empty() && errors.empty()) {
    fmt::print(stderr, "mpheap mpy: no .mpy files found\n");
    return 1;
  }
  if (!errors.empty() && files.size() > 1)
    fmt::print(stderr, "mpheap mpy: {} of {} files could not be read\n", files.size() - read,
               files.size());
  return errors.empty() ? 0 : 1;
}

}  // namespace

void add_mpy_command(CLI::App& app, int* status) {
  auto args = std::make_shared<MpyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "mpy",
      "Read compiled .mpy files of every format version (3, 4, 5, 6.0-6.3; MicroPython 'M' and "
      "CircuitPython 'C'): where their bytes go, the disassembly, or everything as JSON.");
  cmd->footer(
      "By default prints a size breakdown: bytes of bytecode, prelude, line info, qstrs, constants "
      "and "
      "native code, per file and per function, largest first; for several files or a directory the "
      "same summed over all of them with the largest functions across them. Files that cannot be "
      "read "
      "are reported with the byte offset and what was expected; the others are still processed and "
      "the "
      "exit status is 1. See docs/mpy.md.\n\n"
      "Examples:\n"
      "  mpheap mpy lib/adafruit_display_text/label.mpy\n"
      "  mpheap mpy lib/ --top 30\n"
      "  mpheap mpy --disasm code.mpy\n"
      "  mpheap mpy --json lib/ > mpy.json");
  cmd->add_option("FILE", args->inputs, ".mpy files or directories (searched recursively)")
      ->required();
  cmd->add_flag(
      "--disasm,-d", args->disasm,
      "print the header, qstr and object tables and every raw code's prelude, line info and "
      "disassembled bytecode (in the spirit of mpy-tool.py -d)");
  cmd->add_flag("--json", args->json, "print everything as JSON (docs/formats/mpy.schema.json)");
  cmd->add_flag("--no-instructions", args->no_instructions,
                "leave the instruction lists out of --json");
  cmd->add_option("--top", args->top, "functions (and files) listed in the size breakdown; 0 = all")
      ->capture_default_str();
  cmd->callback([args, status] { *status = run_mpy(*args); });
}

}  // namespace mpheap::cli
