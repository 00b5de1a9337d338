// The heap pipeline every consumer shares (mpheap heap, mpheap report, the tests, the fuzzers,
// the benchmarks): open the dump files, load the target with its layouts looked for in the
// dumps, choose the roots (registers and stack, given or kept in a capture's headers), then for
// any one dump decode it, name its objects and analyse the ownership graph.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mpheap/heap/analysis.h"
#include "mpheap/heap/functions.h"
#include "mpheap/heap/graph.h"
#include "mpheap/heap/objects.h"
#include "mpheap/heap/snapshot.h"
#include "mpheap/io/memory_image.h"
#include "mpheap/io/registers.h"
#include "mpheap/report/report_heap.h"
#include "mpheap/session/dump_file.h"
#include "mpheap/session/target_source.h"
#include "mpheap/target/debug_info.h"
#include "mpheap/target/elf_image.h"
#include "mpheap/util/error.h"

namespace mpheap::session {

struct HeapRequest {
  TargetSource target;
  // Dump files: FILE@ADDR (one dump, or raw dumps of one region laid end to end) or a snapshot
  // sequence written by `mpheap capture snapshots` (FILE). The layouts are looked for in the
  // first file's first dump.
  std::vector<std::string> dumps;
  std::vector<std::string> memory;  // more FILE@ADDR, part of every snapshot
  std::uint64_t dump_size = 0;      // bytes per raw dump; 0 = the RAM region's size
  std::string stack;                // "START:END" scanned as roots ("" = from the registers)
  std::string registers;            // gdb `info registers` output at the dumps ("" = none)
};

// The roots the user gave: a stack range and/or registers with their SP.
struct GivenRoots {
  std::optional<heap::AddressRange> stack;
  std::vector<io::Register> registers;
  std::optional<std::uint64_t> sp;
  std::string regs_path;
};

// One dump decoded, named and analysed. Not movable: the reader refers to the memory and the
// snapshot it holds.
struct AnalyzedSnapshot {
  std::uint64_t file = 0, index = 0;  // which dump: HeapRequest::dumps[file], dump `index`
  io::MemoryImage memory;
  heap::Snapshot snapshot;
  std::optional<heap::ObjectReader> reader;
  std::vector<heap::FunctionInfo> functions;
  heap::GraphOptions roots;
  heap::SnapshotAnalysis analysis;
  // The decoder's diagnostics, each with where it is ("byte N" of the file, or the address).
  std::vector<std::string> diagnostics;
  std::vector<std::string> notes;  // how the stack was found (also in every later snapshot)
  std::string warning;             // this snapshot's stack is not scanned, and why
  // This dump contradicts the layout in use (found by the shapes of structures in another dump).
  std::string layout_warning;
  // This dump's heap areas (followed by `next` in it) are not those the target was made from.
  std::string areas_warning;
  // Root memory not in the dumps: garbage may be overcounted (empty when all was read).
  std::string roots_warning;
  // Objects of the program that read this snapshot on the board (`capture repl`'s reader, named
  // in the sequence's header) and all they alone hold; a note says how much.
  std::vector<std::uint32_t> reader_held;
  std::string reader_note;
  // Why the stack roots are not named after the Python functions whose frames hold them (no ELF
  // with DWARF, no pc among the registers, the stack not in the dump); "" when they are.
  std::string python_frames_note;
  [[nodiscard]] bool stack_scanned() const { return roots.stack.has_value(); }
  // What to tell the user about this snapshot, in order: the diagnostics, the notes (once per
  // run: `with_notes` for the first snapshot shown), the warnings.
  [[nodiscard]] std::vector<std::string> messages(bool with_notes) const {
    std::vector<std::string> out = diagnostics;
    if (with_notes) out.insert(out.end(), notes.begin(), notes.end());
    if (!reader_note.empty()) out.push_back(reader_note);
    for (const std::string* w : {&warning, &layout_warning, &areas_warning, &roots_warning})
      if (!w->empty()) out.push_back(*w);
    return out;
  }

  AnalyzedSnapshot() = default;
  AnalyzedSnapshot(const AnalyzedSnapshot&) = delete;
  AnalyzedSnapshot& operator=(const AnalyzedSnapshot&) = delete;
};

// The summary the HTML report and `heap --json` show (report::summarize_snapshot), with the
// reader's objects marked.
report::SnapshotSummary summarize(const AnalyzedSnapshot& s, std::string label,
                                  const target::Target& t);

class HeapSession {
 public:
  [[nodiscard]] static Expected<HeapSession> open(const HeapRequest& request);

  [[nodiscard]] const target::Target& target() const { return loaded_.target; }
  // The target as loaded; its `ram` holds the memory every snapshot shares (--mem, --ram), not
  // the dump files, which are read one snapshot at a time.
  [[nodiscard]] const LoadedTarget& loaded() const { return loaded_; }
  [[nodiscard]] std::uint64_t load_bias() const {
    return loaded_.findings ? loaded_.findings->load_bias : 0;
  }
  // What the user should know about the inputs (fallbacks, files not read whole).
  [[nodiscard]] const std::vector<std::string>& notes() const { return notes_; }
  [[nodiscard]] std::size_t file_count() const { return files_.size(); }
  [[nodiscard]] const DumpFile& file(std::size_t i) const { return files_[i]; }

  // Dump `index` of file `file`, decoded, named and analysed with its roots. Fails when its
  // heap cannot be decoded at all or registers the user gave do not fit it.
  [[nodiscard]] Expected<std::unique_ptr<AnalyzedSnapshot>> analyze(std::size_t file,
                                                                    std::uint64_t index);
  // A dump decoded and named, without the graph: dump `index` of the first file, or another
  // dump file FILE@ADDR of the same region (for diffs).
  [[nodiscard]] Expected<std::unique_ptr<AnalyzedSnapshot>> decode(std::uint64_t index);
  [[nodiscard]] Expected<std::unique_ptr<AnalyzedSnapshot>> decode_other(const std::string& spec);

 private:
  [[nodiscard]] io::MemoryImage other_memory() const;
  [[nodiscard]] std::string recheck_layout(const io::MemoryImage& memory);
  [[nodiscard]] Expected<std::unique_ptr<AnalyzedSnapshot>> decode_dump(std::size_t file,
                                                                        std::uint64_t index);
  [[nodiscard]] Expected<std::unique_ptr<AnalyzedSnapshot>> decode_in(
      std::unique_ptr<AnalyzedSnapshot> out, const std::string& source);

  // The stack roots of `s` in a running Python function's frame renamed after it; a note says
  // why not when it cannot be done.
  void name_python_frames(AnalyzedSnapshot& s, const io::SnapshotHeader* header);
  void open_debug_info();

  std::vector<DumpFile> files_;
  LoadedTarget loaded_;
  // The ELF given as the target and its debug information, for the Python frames on the stack,
  // read when first needed (`debug_missing_` says why there is none).
  std::string elf_path_;
  std::unique_ptr<std::string> elf_bytes_;
  std::unique_ptr<target::elf::ElfImage> elf_;
  std::unique_ptr<target::elf::DebugInfo> debug_;
  std::string debug_missing_;
  GivenRoots given_;
  std::vector<std::string> notes_;
  std::optional<target::Target> search_;  // scratch for recheck_layout
};

// The parts of HeapSession, for callers that assemble their own memory.
[[nodiscard]] Expected<GivenRoots> read_given_roots(const std::string& stack,
                                                    const std::string& registers_path);

// One snapshot's roots beyond mp_state_ctx and .data/.bss: the registers (given, else those
// `mpheap capture snapshots` kept in the snapshot's header) and the stack from their SP to the
// stack's top (a given stack range overrides). Registers given by the user that do not fit the
// dump are an error; a header's are a warning (the snapshot is still analysed, without the
// stack).
struct StackRoots {
  heap::GraphOptions options;
  std::vector<std::string> notes;
  std::string warning;
};
[[nodiscard]] Expected<StackRoots> stack_roots(const GivenRoots& given, const target::Target& t,
                                               const io::MemoryImage& mem, std::uint64_t bias,
                                               const io::SnapshotHeader* header,
                                               std::uint64_t index);

}  // namespace mpheap::session
