// Snapshot sequence files: header lines, indexing, and the view `mpheap heap` reads.
#include "mpheap/io/snapshot_sequence.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <utility>

#include "mpheap/io/file.h"
#include "mpheap/util/number.h"

namespace mpheap::io {
namespace {

bool is_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

std::optional<double> parse_double(std::string_view s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// Labels are percent-encoded: space, '%', controls and bytes above 0x7e as %XX.
std::string encode_label(std::string_view label) {
  std::string out;
  for (char c : label) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '%')
      out += fmt::format("%{:02X}", u);
    else
      out += c;
  }
  return out;
}

std::optional<std::string> decode_label(std::string_view value) {
  std::string out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%') {
      out += value[i];
      continue;
    }
    if (i + 2 >= value.size() || !is_hex(value.substr(i + 1, 2))) return std::nullopt;
    unsigned byte = 0;
    std::from_chars(value.data() + i + 1, value.data() + i + 3, byte, 16);
    out += static_cast<char>(byte);
    i += 2;
  }
  return out;
}

}  // namespace

std::string format_snapshot_header(const SnapshotHeader& h) {
  std::string line = fmt::format("{}index={} time_ms={:.3f} unix_ms={} start={:#x} end={:#x}",
                                 kSnapshotMagic, h.index, h.time_ms, h.unix_ms, h.start, h.end);
  if (!h.trigger.empty()) line += fmt::format(" trigger={}", h.trigger);
  if (!h.label.empty()) line += fmt::format(" label={}", encode_label(h.label));
  if (!h.registers.empty()) line += fmt::format(" regs={}", h.registers);
  for (std::size_t k = 0; k < h.reader_objects.size(); ++k)
    line += fmt::format("{}{:#x}", k == 0 ? " reader=" : ",", h.reader_objects[k]);
  if (h.parts > 1) line += fmt::format(" part={}/{}", h.part, h.parts);
  line += '\n';
  return line;
}

Expected<SnapshotHeader> parse_snapshot_header(std::string_view line, const std::string& source,
                                               std::uint64_t offset) {
  auto fail = [&](std::string what) -> Expected<SnapshotHeader> {
    return Error{source, 0, offset == 0 ? 0 : offset, std::move(what)};
  };
  if (!line.starts_with(kSnapshotMagic))
    return fail(fmt::format("expected a snapshot header '{}...', found '{}'",
                            kSnapshotMagic.substr(0, kSnapshotMagic.size() - 1),
                            line.substr(0, 24)));
  line.remove_prefix(kSnapshotMagic.size());
  SnapshotHeader h;
  bool has_start = false, has_end = false;
  while (!line.empty()) {
    auto space = line.find(' ');
    std::string_view item = line.substr(0, space);
    line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return fail(
          fmt::format("expected key=value in the snapshot header, found '{}'", item.substr(0, 40)));
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    auto number = [&](std::uint64_t& out) -> bool {
      auto v = parse_uint(value);
      if (v) out = *v;
      return v.has_value();
    };
    bool ok = true;
    if (key == "index") {
      ok = number(h.index);
    } else if (key == "time_ms") {
      auto v = parse_double(value);
      ok = v.has_value();
      if (v) h.time_ms = *v;
    } else if (key == "unix_ms") {
      ok = number(h.unix_ms);
    } else if (key == "start") {
      ok = has_start = number(h.start);
    } else if (key == "end") {
      ok = has_end = number(h.end);
    } else if (key == "trigger") {
      h.trigger = std::string(value);
    } else if (key == "label") {
      auto v = decode_label(value);
      ok = v.has_value();
      if (v) h.label = std::move(*v);
    } else if (key == "part") {
      auto slash = value.find('/');
      auto k = parse_uint(value.substr(0, slash));
      auto n = slash == std::string_view::npos ? std::nullopt : parse_uint(value.substr(slash + 1));
      ok = k && n && *n >= 1 && *n <= 64 && *k < *n;
      if (ok) {
        h.part = static_cast<std::uint32_t>(*k);
        h.parts = static_cast<std::uint32_t>(*n);
      }
    } else if (key == "regs") {
      ok = is_hex(value) && value.size() % 2 == 0;
      if (ok) h.registers = std::string(value);
    } else if (key == "reader") {
      h.reader_objects.clear();
      for (std::string_view rest = value; ok && !rest.empty();) {
        auto comma = rest.find(',');
        auto v = parse_uint(rest.substr(0, comma));
        ok = v.has_value() && h.reader_objects.size() < 64;
        if (ok) h.reader_objects.push_back(*v);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
      ok = ok && !h.reader_objects.empty();
    }  // other keys: from a newer writer, ignored
    if (!ok)
      return fail(fmt::format("snapshot header: bad value for {}: '{}'", key, value.substr(0, 40)));
  }
  if (!has_start || !has_end) return fail("snapshot header: start= and end= are required");
  if (h.end <= h.start)
    return fail(fmt::format("snapshot header: end {:#x} is not above start {:#x}", h.end, h.start));
  return h;
}

bool is_snapshot_sequence(std::string_view first_bytes) {
  return first_bytes.starts_with(kSnapshotMagic);
}

namespace {

// The entry whose header starts at `pos`: `window` holds the file's bytes from `pos` on (at
// least the header's length, at most kMaxSnapshotHeader + 1), `file_size` the whole size.
Expected<SnapshotEntry> entry_at(std::string_view window, std::uint64_t pos,
                                 std::uint64_t file_size, std::size_t index,
                                 const std::string& source) {
  auto nl = window.substr(0, kMaxSnapshotHeader + 1).find('\n');
  if (nl == std::string_view::npos)
    return Error{source, 0, pos,
                 fmt::format("snapshot {}: the header line has no end (expected a newline within "
                             "{} bytes)",
                             index, kMaxSnapshotHeader)};
  auto h = parse_snapshot_header(window.substr(0, nl), source, pos);
  if (!h) return h.error();
  SnapshotEntry e{*h, pos, pos + nl + 1};
  if (e.header.size() > file_size - e.data_offset)
    return Error{source, 0, e.data_offset,
                 fmt::format("snapshot {}: the header announces {} bytes, the file holds {} (cut "
                             "off?)",
                             index, e.header.size(), file_size - e.data_offset)};
  return e;
}

}  // namespace

Expected<std::vector<SnapshotEntry>> index_snapshot_sequence(std::string_view bytes,
                                                             const std::string& source) {
  std::vector<SnapshotEntry> out;
  for (std::uint64_t pos = 0; pos < bytes.size();) {
    auto e = entry_at(bytes.substr(pos), pos, bytes.size(), out.size(), source);
    if (!e) return e.error();
    pos = e->data_offset + e->header.size();
    out.push_back(std::move(*e));
  }
  if (out.empty()) return Error{source, 0, 0, "no snapshots (the file is empty)"};
  return out;
}

Expected<std::vector<SnapshotEntry>> index_snapshot_sequence_file(const std::string& path) {
  auto opened = open_input_file(path, "a snapshot sequence", true);
  if (!opened) return opened.error();
  std::ifstream& in = *opened;
  const auto file_size = static_cast<std::uint64_t>(in.tellg());
  std::vector<SnapshotEntry> out;
  std::string buf(kMaxSnapshotHeader + 1, '\0');
  for (std::uint64_t pos = 0; pos < file_size;) {
    in.seekg(static_cast<std::streamoff>(pos));
    auto want = std::min<std::uint64_t>(buf.size(), file_size - pos);
    in.read(buf.data(), static_cast<std::streamsize>(want));
    if (!in) return Error{path, 0, pos, "cannot read the snapshot header"};
    auto e = entry_at(std::string_view(buf.data(), want), pos, file_size, out.size(), path);
    if (!e) return e.error();
    pos = e->data_offset + e->header.size();
    out.push_back(std::move(*e));
  }
  if (out.empty()) return Error{path, 0, 0, "no snapshots (the file is empty)"};
  return out;
}

Expected<SnapshotDumps> group_snapshot_dumps(std::vector<SnapshotEntry> entries,
                                             const std::string& path) {
  if (entries.empty()) return Error{path, 0, 0, "no snapshots (the file is empty)"};
  SnapshotDumps d;
  d.path = path;
  // Snapshot 0's parts are the layout every snapshot must have.
  const std::uint32_t n = entries.front().header.parts;
  std::vector<SnapshotEntry> firsts;
  for (std::size_t r = 0; r < entries.size(); ++r) {
    const SnapshotEntry& e = entries[r];
    const std::uint32_t k = static_cast<std::uint32_t>(r % n);
    const std::size_t snapshot = r / n;
    if (e.header.parts != n || e.header.part != k)
      return Error{path, 0, e.header_offset,
                   fmt::format("record {} is part {}/{}, expected part {}/{} (snapshot {}); the "
                               "file lost a part, or mixes captures",
                               r, e.header.part, e.header.parts, k, n, snapshot)};
    if (snapshot == 0) {
      const std::uint64_t offset =
          d.parts.empty() ? 0 : d.parts.back().offset + d.parts.back().size;
      if (!d.parts.empty() && e.header.start < d.parts.back().start + d.parts.back().size)
        return Error{path, 0, e.header_offset,
                     fmt::format("part {} ({:#x}..{:#x}) overlaps or precedes part {}; parts "
                                 "must be in ascending order",
                                 k, e.header.start, e.header.end, k - 1)};
      d.parts.push_back({e.header.start, e.header.size(), offset});
    } else if (e.header.start != d.parts[k].start || e.header.size() != d.parts[k].size) {
      return Error{path, 0, e.header_offset,
                   fmt::format("snapshot {} holds {:#x}..{:#x}, snapshot 0 {:#x}..{:#x}: mpheap "
                               "heap reads sequences of the same ranges",
                               snapshot, e.header.start, e.header.end, d.parts[k].start,
                               d.parts[k].start + d.parts[k].size)};
    }
    d.part_data.push_back(e.data_offset);
    if (k == 0) firsts.push_back(e);
  }
  if (entries.size() % n != 0)
    return Error{
        path, 0, entries.back().header_offset,
        fmt::format("the last snapshot has {} of its {} parts (cut off?)", entries.size() % n, n)};
  d.address = d.parts.front().start;
  d.dump_size = d.parts.back().offset + d.parts.back().size;
  d.entries = std::move(firsts);
  return d;
}

Expected<std::optional<SnapshotDumps>> open_snapshot_dumps(std::string_view spec) {
  std::string path(spec);
  std::optional<std::uint64_t> address;
  if (auto at = spec.rfind('@'); at != std::string_view::npos && at > 0) {
    if (auto a = parse_uint(spec.substr(at + 1))) {
      address = *a;
      path = std::string(spec.substr(0, at));
    }
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::optional<SnapshotDumps>();  // the caller's reader says why
  std::string start(kSnapshotMagic.size(), '\0');
  in.read(start.data(), static_cast<std::streamsize>(start.size()));
  if (!in || !is_snapshot_sequence(start)) return std::optional<SnapshotDumps>();
  auto entries = index_snapshot_sequence_file(path);
  if (!entries) return entries.error();
  auto d = group_snapshot_dumps(std::move(*entries), path);
  if (!d) return d.error();
  if (address && *address != d->address)
    return Error{path, 0, 0,
                 fmt::format("the snapshots start at {:#x} (their headers say so), not at {:#x}",
                             d->address, *address)};
  return std::optional<SnapshotDumps>(std::move(*d));
}

Expected<SnapshotSequenceWriter> SnapshotSequenceWriter::create(std::string path) {
  const std::string part = path + ".part";
  std::FILE* f = std::fopen(part.c_str(), "wb");
  if (f == nullptr)
    return Error{path, 0, 0, fmt::format("cannot write {}: {}", part, std::strerror(errno)),
                 ErrorKind::io};
  return SnapshotSequenceWriter(std::move(path), f);
}

SnapshotSequenceWriter::SnapshotSequenceWriter(SnapshotSequenceWriter&& other) noexcept
    : path_(std::move(other.path_)),
      file_(std::exchange(other.file_, nullptr)),
      count_(other.count_),
      size_(other.size_) {}

SnapshotSequenceWriter::~SnapshotSequenceWriter() {
  if (file_ == nullptr) return;
  std::fclose(file_);
  std::remove((path_ + ".part").c_str());
}

Expected<bool> SnapshotSequenceWriter::append(const SnapshotHeader& header,
                                              std::string_view bytes) {
  const SnapshotRecord one{header, bytes};
  return append(std::span<const SnapshotRecord>(&one, 1));
}

Expected<bool> SnapshotSequenceWriter::append(std::span<const SnapshotRecord> parts) {
  if (file_ == nullptr) return Error{path_, 0, 0, "already closed", ErrorKind::io};
  bool written = true;
  std::uint64_t size = 0;
  for (const SnapshotRecord& r : parts) {
    const std::string line = format_snapshot_header(r.header);
    written = written && std::fwrite(line.data(), 1, line.size(), file_) == line.size() &&
              std::fwrite(r.bytes.data(), 1, r.bytes.size(), file_) == r.bytes.size();
    size += line.size() + r.bytes.size();
  }
  if (!written || std::fflush(file_) != 0) {
    const int err = errno;
    // Back to the last complete snapshot.
    (void)!::ftruncate(::fileno(file_), static_cast<off_t>(size_));
    std::fseek(file_, static_cast<long>(size_), SEEK_SET);
    return Error{path_, 0, size_, fmt::format("cannot write: {}", std::strerror(err)),
                 ErrorKind::io};
  }
  size_ += size;
  ++count_;
  return true;
}

Expected<bool> SnapshotSequenceWriter::commit() {
  const std::string part = path_ + ".part";
  std::FILE* f = std::exchange(file_, nullptr);
  const bool closed = f != nullptr && std::fclose(f) == 0;
  if (count_ == 0 || !closed) {
    std::remove(part.c_str());
    return Error{path_, 0, 0,
                 closed ? "no snapshot was taken; nothing written"
                        : "cannot write (disk full?); nothing written",
                 ErrorKind::io};
  }
  if (std::rename(part.c_str(), path_.c_str()) != 0)
    return Error{path_, 0, 0, fmt::format("cannot rename {}: {}", part, std::strerror(errno)),
                 ErrorKind::io};
  return true;
}

}  // namespace mpheap::io
