// libFuzzer target for the .mpy readers (every version) and everything downstream of them:
// disassembly, size accounting and the presenters. Any input must give a model or one clean
// error, and an accepted file's parts must sum to its size.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "mpheap/mpy/disasm.h"
#include "mpheap/mpy/reader.h"
#include "mpheap/mpy/sizes.h"
#include "mpheap/report/mpy_report.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mpheap;
  auto file = mpy::read_mpy(std::span<const std::uint8_t>(data, size), "fuzz.mpy");
  if (!file) {
    if (file.error().offset > size) std::abort();
    (void)file.error().message();
    return 0;
  }
  mpy::FileSizes sizes = mpy::size_breakdown(*file);
  if (mpy::total(sizes.parts) != size) std::abort();
  (void)mpy::disassembly_text(*file);
  std::string json;
  report::append_file_json(json, *file, true);
  (void)report::sizes_text(std::span<const mpy::FileSizes>(&sizes, 1), 10);
  return 0;
}
