#include "mpheap/session/dump_file.h"

#include <fmt/format.h>

#include <algorithm>

#include "mpheap/io/file.h"

namespace mpheap::session {

Expected<DumpFile> DumpFile::open(const std::string& spec, std::uint64_t dump_size) {
  DumpFile d;
  auto seq = io::open_snapshot_dumps(spec);
  if (!seq) return seq.error();
  if (*seq) {
    d.path_ = (*seq)->path;
    d.address_ = (*seq)->address;
    d.size_ = (*seq)->dump_size;
    d.bytes_ = d.size_ * (*seq)->entries.size();
    d.sequence_ = std::move(**seq);
  } else {
    auto placed = io::parse_placed_file(spec);
    if (!placed) return placed.error();
    d.path_ = placed->path;
    d.address_ = placed->address;
    d.size_ = dump_size;
  }
  auto in = io::open_input_file(d.path_, "a RAM dump", true);
  if (!in) return in.error();
  d.in_ = std::move(*in);
  if (!d.sequence_) d.bytes_ = static_cast<std::uint64_t>(d.in_.tellg());
  if (d.bytes_ == 0) return Error{d.path_, 0, 0, "the dump is empty"};
  if (d.size_ > d.bytes_)
    return Error{
        d.path_, 0, 0,
        fmt::format("--dump-size {} is larger than the file's {} bytes", d.size_, d.bytes_)};
  return d;
}

std::optional<std::string> DumpFile::settle_size(const target::Target& t) {
  if (size_ == 0) {
    std::uint64_t region = 0;
    for (const target::MemoryRegion& r : t.regions)
      if (r.start == address_) region = std::max(region, r.end - r.start);
    size_ = region != 0 && bytes_ > region && bytes_ % region == 0 ? region : bytes_;
  }
  if (bytes_ % size_ == 0) return std::nullopt;
  return fmt::format(
      "{}: {} bytes is not a whole number of {}-byte dumps; the last {} bytes are not read", path_,
      bytes_, size_, bytes_ % size_);
}

Expected<std::vector<io::MemoryRange>> DumpFile::read_probe() {
  constexpr std::uint64_t kProbeBytes = 64ULL << 20;
  if (size_ != 0) return read_dump(0);
  auto r = read(0, std::min(bytes_, kProbeBytes));
  if (!r) return r.error();
  std::vector<io::MemoryRange> out;
  out.push_back(std::move(*r));
  return out;
}

Expected<std::vector<io::MemoryRange>> DumpFile::read_dump(std::uint64_t index) {
  std::vector<io::MemoryRange> out;
  if (sequence_ && sequence_->parts.size() > 1) {
    for (const io::SnapshotDumps::Part& p : sequence_->parts) {
      auto r = read(index * size_ + p.offset, p.size);
      if (!r) return r.error();
      r->address = p.start;
      out.push_back(std::move(*r));
    }
    return out;
  }
  auto r = read(index * size_, size_);
  if (!r) return r.error();
  out.push_back(std::move(*r));
  return out;
}

std::optional<std::uint64_t> DumpFile::file_offset_of(std::uint64_t index,
                                                      std::uint64_t address) const {
  if (sequence_) return sequence_->file_offset_of(index, address);
  if (address < address_ || address - address_ >= size_) return std::nullopt;
  return index * size_ + (address - address_);
}

Expected<io::MemoryRange> DumpFile::read(std::uint64_t at, std::uint64_t bytes) {
  io::MemoryRange r;
  r.address = address_;
  r.source = path_;
  r.bytes.resize(bytes);
  in_.clear();
  in_.seekg(static_cast<std::streamoff>(file_offset(at)));
  in_.read(reinterpret_cast<char*>(r.bytes.data()), static_cast<std::streamsize>(bytes));
  if (!in_) return Error{path_, 0, file_offset(at), fmt::format("cannot read {} bytes", bytes)};
  return r;
}

}  // namespace mpheap::session
