// Snapshot sequence files (docs/formats/snapshot-sequence.md): RAM dumps one after the other,
// each after a one-line text header saying when it was taken, which addresses it holds and
// what triggered it. `mpheap capture snapshots` writes them; `mpheap heap` reads them.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/util/error.h"

namespace mpheap::io {

inline constexpr std::string_view kSnapshotMagic = "MPHEAP-SNAPSHOT 1 ";
// A header line is at most this long (the registers are the longest part).
inline constexpr std::size_t kMaxSnapshotHeader = 8192;

struct SnapshotHeader {
  std::uint64_t index = 0;
  double time_ms = 0;         // since the capture started
  std::uint64_t unix_ms = 0;  // wall clock, 0 when unknown
  std::uint64_t start = 0;    // first address
  std::uint64_t end = 0;      // one past the last address
  std::string trigger;        // "start", "every:100ms", "on:0x1234", ...
  std::string label;          // the capturing program's name for the moment (mpheap_snap)
  std::string registers;      // the gdb `g` reply (hex, target order), may be empty
  // Heap objects of the program that read this snapshot on the board (`capture repl`'s
  // reader): addresses inside them, so the analysis can tell them from the user's objects.
  std::vector<std::uint64_t> reader_objects;
  // A snapshot of several ranges is one record per range, one after the other, parts 0..N-1
  // (part=K/N), ranges ascending; the first record's header speaks for the snapshot.
  std::uint32_t part = 0, parts = 1;
  [[nodiscard]] std::uint64_t size() const { return end - start; }
};

// One record to write: a header and its `end - start` bytes.
struct SnapshotRecord {
  SnapshotHeader header;
  std::string_view bytes;
};

// One snapshot of a file: its header and where its bytes start.
struct SnapshotEntry {
  SnapshotHeader header;
  std::uint64_t header_offset = 0;
  std::uint64_t data_offset = 0;
};

// The header line, newline included.
std::string format_snapshot_header(const SnapshotHeader& h);
// One header line without its newline; `source`/`offset` name it in errors.
Expected<SnapshotHeader> parse_snapshot_header(std::string_view line, const std::string& source,
                                               std::uint64_t offset);

// True when the bytes start like a snapshot sequence.
bool is_snapshot_sequence(std::string_view first_bytes);
// Every snapshot of a sequence held in memory (headers checked, data lengths checked).
Expected<std::vector<SnapshotEntry>> index_snapshot_sequence(std::string_view bytes,
                                                             const std::string& source);
// The same for a file, reading the headers only (a sequence of thousands of dumps costs a
// few seeks, not its size in memory).
Expected<std::vector<SnapshotEntry>> index_snapshot_sequence_file(const std::string& path);

// Writes a sequence to PATH.part and renames it to PATH at commit(): PATH is never half a
// snapshot. A record that fails to write is cut off again, so the part file holds complete
// snapshots only; without commit() the part file is removed.
class SnapshotSequenceWriter {
 public:
  static Expected<SnapshotSequenceWriter> create(std::string path);
  SnapshotSequenceWriter(SnapshotSequenceWriter&& other) noexcept;
  SnapshotSequenceWriter& operator=(SnapshotSequenceWriter&&) = delete;
  ~SnapshotSequenceWriter();
  Expected<bool> append(const SnapshotHeader& header, std::string_view bytes);
  // One snapshot of several ranges (its parts, in order): all of it or, after a failure, none.
  Expected<bool> append(std::span<const SnapshotRecord> parts);
  // Renames the part file to PATH; with no snapshot in it, removes it and says so.
  Expected<bool> commit();
  [[nodiscard]] std::uint64_t count() const { return count_; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  SnapshotSequenceWriter(std::string path, std::FILE* f) : path_(std::move(path)), file_(f) {}
  std::string path_;
  std::FILE* file_ = nullptr;
  std::uint64_t count_ = 0, size_ = 0;
};

// What `mpheap heap` needs to read a sequence file as dumps of the same ranges: every snapshot
// has the same parts (one range, or several: part=K/N). `spec` is FILE or FILE@ADDR (ADDR, when
// given, must be the first range's start).
struct SnapshotDumps {
  struct Part {
    std::uint64_t start = 0, size = 0;
    std::uint64_t offset = 0;  // where it starts in a dump laid end to end
  };
  std::string path;
  std::uint64_t address = 0;    // the first part's start
  std::uint64_t dump_size = 0;  // the bytes of all parts
  std::vector<Part> parts;
  std::vector<SnapshotEntry> entries;    // one per snapshot: its first record
  std::vector<std::uint64_t> part_data;  // data offset of part k of snapshot i: [i * parts + k]
  // The file offset of byte `logical` of the dumps laid end to end (dump i at i * dump_size).
  [[nodiscard]] std::uint64_t file_offset(std::uint64_t logical) const {
    const std::uint64_t i = logical / dump_size, within = logical % dump_size;
    std::size_t k = parts.size() - 1;
    while (k > 0 && parts[k].offset > within) --k;
    return part_data[i * parts.size() + k] + (within - parts[k].offset);
  }
  // The file offset of the byte at `address` in snapshot `index`, when a part holds it.
  [[nodiscard]] std::optional<std::uint64_t> file_offset_of(std::uint64_t index,
                                                            std::uint64_t at) const {
    for (std::size_t k = 0; k < parts.size(); ++k)
      if (at >= parts[k].start && at - parts[k].start < parts[k].size)
        return part_data[index * parts.size() + k] + (at - parts[k].start);
    return std::nullopt;
  }
};
// A sequence's records (index_snapshot_sequence*) as snapshots: the parts of each grouped, the
// layout checked to be the same for all.
Expected<SnapshotDumps> group_snapshot_dumps(std::vector<SnapshotEntry> entries,
                                             const std::string& path);
// nullopt when the file is not a snapshot sequence (a raw dump); an error when it is one but is
// broken or its dumps differ in range.
Expected<std::optional<SnapshotDumps>> open_snapshot_dumps(std::string_view spec);

}  // namespace mpheap::io
