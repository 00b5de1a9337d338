// Presenters for .mpy analyses: the size breakdown as text, and the JSON document
// (docs/formats/mpy.schema.json).
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "mpheap/mpy/model.h"
#include "mpheap/mpy/sizes.h"
#include "mpheap/report/output.h"
#include "mpheap/util/error.h"

namespace mpheap::report {

inline constexpr int kMpyJsonFormatVersion = 1;

// One file: its parts and every function, largest first. Several files: a table of files,
// the parts summed over all of them and the `top` largest functions across them.
std::string sizes_text(std::span<const mpy::FileSizes> files, std::size_t top);

// Appends one file as a JSON object.
void append_file_json(std::string& out, const mpy::MpyFile& file, bool with_instructions);

// The document {"format": "mpheap-mpy", "version": 1, "files": [...], "errors": [...]}
// written as it goes: the head at construction, each file's object when add() is given the
// file, the errors at finish(). Memory is one file's text plus the output's buffer, however
// many files there are.
class MpyJsonStream {
 public:
  MpyJsonStream(Output& out, bool with_instructions);
  void add(const mpy::MpyFile& file);
  void finish(std::span<const Error> errors);

 private:
  Output& out_;
  bool with_instructions_;
  std::size_t files_ = 0;
};

}  // namespace mpheap::report
