// One RAM dump file as `mpheap heap` and `mpheap report` take it: a raw dump placed at its
// address (FILE@ADDR), raw dumps of one region laid end to end, or a snapshot sequence written
// by `mpheap capture snapshots` (its headers name the address and size). Dumps are read one at
// a time, so memory follows one dump, not the file.
#pragma once

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "mpheap/io/memory_image.h"
#include "mpheap/io/snapshot_sequence.h"
#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::session {

class DumpFile {
 public:
  // `dump_size` (bytes per raw dump, 0 = decide later with settle_size) is ignored for a
  // sequence, whose headers say it.
  static Expected<DumpFile> open(const std::string& spec, std::uint64_t dump_size);

  // For raw dumps of unknown size: the size of the largest target region starting at the
  // dump's address when the file holds a whole number of them, else the whole file. Returns a
  // warning when the file is not a whole number of dumps (its tail is then not read).
  std::optional<std::string> settle_size(const target::Target& t);

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::uint64_t address() const { return address_; }
  [[nodiscard]] std::uint64_t size() const { return size_; }  // bytes per dump
  [[nodiscard]] std::uint64_t count() const { return size_ == 0 ? 0 : bytes_ / size_; }
  [[nodiscard]] std::uint64_t file_bytes() const { return bytes_; }  // of dump data
  [[nodiscard]] const io::SnapshotDumps* sequence() const {
    return sequence_ ? &*sequence_ : nullptr;
  }
  // The byte offset in the file of offset `at` of the dumps laid end to end.
  [[nodiscard]] std::uint64_t file_offset(std::uint64_t at) const {
    return sequence_ ? sequence_->file_offset(at) : at;
  }
  // `bytes` bytes from offset `at` of the dumps laid end to end, placed at the dump's address.
  Expected<io::MemoryRange> read(std::uint64_t at, std::uint64_t bytes);
  // The file offset of the byte at `address` in dump `index`, when the dump holds it.
  [[nodiscard]] std::optional<std::uint64_t> file_offset_of(std::uint64_t index,
                                                            std::uint64_t address) const;
  // What the target's layouts are looked for in: the first dump, or the file's first 64 MiB
  // while the dump size is not settled (a raw sequence's later dumps then lie above the region
  // and are not read).
  Expected<std::vector<io::MemoryRange>> read_probe();
  // Dump `index` (0-based) whole: one range, or one per part of a sequence's snapshots.
  Expected<std::vector<io::MemoryRange>> read_dump(std::uint64_t index);

 private:
  std::string path_;
  std::uint64_t address_ = 0;
  std::optional<io::SnapshotDumps> sequence_;
  std::uint64_t bytes_ = 0;  // of dump data
  std::uint64_t size_ = 0;   // per dump, 0 until settled
  std::ifstream in_;
};

}  // namespace mpheap::session
