// Snapshot sequence files: headers round trip, indexing, damaged files give one clear error.
#include "mpheap/io/snapshot_sequence.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "capture/process_util.h"

namespace mpheap::io {
namespace {

std::string record(std::uint64_t index, std::uint64_t start, std::string_view data,
                   std::string trigger = "every:100ms") {
  SnapshotHeader h;
  h.index = index;
  h.time_ms = 12.5 * static_cast<double>(index);
  h.unix_ms = 1700000000000 + index;
  h.start = start;
  h.end = start + data.size();
  h.trigger = std::move(trigger);
  h.registers = "00112233";
  return format_snapshot_header(h) + std::string(data);
}

TEST(CaptureSnapshotSequence, HeaderRoundTrips) {
  SnapshotHeader h;
  h.index = 3;
  h.time_ms = 1234.5;
  h.unix_ms = 1764547200123;
  h.start = 0x20000000;
  h.end = 0x20004000;
  h.trigger = "on:gc_collect";
  h.registers = "deadbeef";
  std::string line = format_snapshot_header(h);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_TRUE(is_snapshot_sequence(line));
  auto back = parse_snapshot_header(std::string_view(line).substr(0, line.size() - 1), "f", 0);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->index, 3u);
  EXPECT_DOUBLE_EQ(back->time_ms, 1234.5);
  EXPECT_EQ(back->unix_ms, 1764547200123u);
  EXPECT_EQ(back->start, 0x20000000u);
  EXPECT_EQ(back->end, 0x20004000u);
  EXPECT_EQ(back->trigger, "on:gc_collect");
  EXPECT_EQ(back->registers, "deadbeef");
  // Keys a newer writer may add are ignored.
  EXPECT_TRUE(parse_snapshot_header("MPHEAP-SNAPSHOT 1 start=0x10 end=0x20 colour=blue", "f", 0));
}

TEST(CaptureSnapshotSequence, LabelsArePercentEncoded) {
  SnapshotHeader h;
  h.start = 0x20000000;
  h.end = 0x20004000;
  h.label = "after init: 100% \xc3\xa9t\xc3\xa9\n=x";  // spaces, %, UTF-8, a newline, '='
  std::string line = format_snapshot_header(h);
  EXPECT_NE(line.find(" label=after%20init:%20100%25%20%C3%A9t%C3%A9%0A=x\n"), std::string::npos)
      << line;
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  auto back = parse_snapshot_header(std::string_view(line).substr(0, line.size() - 1), "f", 0);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->label, h.label);
  // A broken escape is named, not read as text.
  auto bad = parse_snapshot_header("MPHEAP-SNAPSHOT 1 start=0x10 end=0x20 label=a%2", "f", 0);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().what.find("bad value for label: 'a%2'"), std::string::npos)
      << bad.error().what;
  EXPECT_FALSE(parse_snapshot_header("MPHEAP-SNAPSHOT 1 start=0x10 end=0x20 label=%zz", "f", 0));
}

TEST(CaptureSnapshotSequence, IndexesRecords) {
  std::string file = record(0, 0x1000, "abcd") + record(1, 0x1000, "efgh");
  auto idx = index_snapshot_sequence(file, "seq");
  ASSERT_TRUE(idx) << idx.error().message();
  ASSERT_EQ(idx->size(), 2u);
  EXPECT_EQ(file.substr((*idx)[1].data_offset, 4), "efgh");
  EXPECT_EQ((*idx)[1].header.index, 1u);
}

TEST(CaptureSnapshotSequence, DamageGivesOneMessage) {
  std::string good = record(0, 0x1000, "abcd");
  auto cut = index_snapshot_sequence(good.substr(0, good.size() - 1), "seq");
  ASSERT_FALSE(cut);
  EXPECT_NE(cut.error().message().find("announces 4 bytes, the file holds 3"), std::string::npos)
      << cut.error().message();
  auto foreign = index_snapshot_sequence(good + "garbage\n", "seq");
  ASSERT_FALSE(foreign);
  EXPECT_NE(foreign.error().message().find("expected a snapshot header"), std::string::npos);
  EXPECT_NE(foreign.error().message().find("byte " + std::to_string(good.size())),
            std::string::npos)
      << foreign.error().message();
  EXPECT_FALSE(index_snapshot_sequence("", "seq"));
  EXPECT_FALSE(index_snapshot_sequence("MPHEAP-SNAPSHOT 1 start=0x10 end=0x10\n", "seq"));
  EXPECT_FALSE(index_snapshot_sequence("MPHEAP-SNAPSHOT 1 start=0x10\n", "seq"));
  EXPECT_FALSE(index_snapshot_sequence("MPHEAP-SNAPSHOT 1 start=0x10 end=zz\n", "seq"));
  EXPECT_FALSE(index_snapshot_sequence("MPHEAP-SNAPSHOT 1 start=0x10 end=0x20 regs=xyz\n", "seq"));
  EXPECT_FALSE(index_snapshot_sequence("MPHEAP-SNAPSHOT 1 " + std::string(10000, 'a'), "seq"));
}

TEST(CaptureSnapshotSequence, DumpsOfOneRangeForHeap) {
  mpheap::testing::TempDir dir("seq");
  const std::string path = dir.file("a.seq");
  {
    std::ofstream out(path, std::ios::binary);
    out << record(0, 0x1000, "abcd") << record(1, 0x1000, "efgh");
  }
  auto d = open_snapshot_dumps(path);
  ASSERT_TRUE(d) << d.error().message();
  ASSERT_TRUE(*d);
  EXPECT_EQ((*d)->address, 0x1000u);
  EXPECT_EQ((*d)->dump_size, 4u);
  EXPECT_EQ((*d)->entries.size(), 2u);
  EXPECT_EQ((*d)->file_offset(5), (*d)->entries[1].data_offset + 1);
  EXPECT_TRUE(open_snapshot_dumps(path + "@0x1000"));
  auto wrong = open_snapshot_dumps(path + "@0x2000");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find("start at 0x1000"), std::string::npos);
  // A raw dump is not a sequence.
  const std::string raw = dir.file("raw.bin");
  std::ofstream(raw, std::ios::binary) << "rawbytes";
  auto r = open_snapshot_dumps(raw + "@0x1000");
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  // Dumps of different ranges cannot be one heap sequence.
  const std::string mixed = dir.file("mixed.seq");
  std::ofstream(mixed, std::ios::binary) << record(0, 0x1000, "abcd") << record(1, 0x1000, "ef");
  EXPECT_FALSE(open_snapshot_dumps(mixed));
}

// Snapshots of several ranges (capture repl --ram twice): one record per range, written as one
// unit; `mpheap heap` reads them as dumps of all the ranges, with file offsets per part.
TEST(CaptureSnapshotSequence, SnapshotsOfSeveralRanges) {
  mpheap::testing::TempDir dir("seq");
  const std::string path = dir.file("parts.seq");
  auto part = [](std::uint64_t index, std::uint32_t k, std::uint64_t start, std::string_view data) {
    SnapshotRecord r;
    r.header.index = index;
    r.header.start = start;
    r.header.end = start + data.size();
    r.header.label = "x";
    r.header.part = k;
    r.header.parts = 2;
    r.bytes = data;
    return r;
  };
  {
    auto w = SnapshotSequenceWriter::create(path);
    ASSERT_TRUE(w) << w.error().message();
    for (std::uint64_t i = 0; i < 2; ++i) {
      const std::string low = i == 0 ? "abcd" : "ABCD", high = i == 0 ? "012345" : "6789xy";
      const SnapshotRecord both[] = {part(i, 0, 0x1000, low), part(i, 1, 0x3000, high)};
      ASSERT_TRUE(w->append(both));
    }
    EXPECT_EQ(w->count(), 2u);  // snapshots, not records
    ASSERT_TRUE(w->commit());
  }
  auto records = index_snapshot_sequence_file(path);
  ASSERT_TRUE(records) << records.error().message();
  ASSERT_EQ(records->size(), 4u);
  EXPECT_EQ((*records)[1].header.part, 1u);
  EXPECT_EQ((*records)[1].header.parts, 2u);
  auto d = open_snapshot_dumps(path);
  ASSERT_TRUE(d) << d.error().message();
  ASSERT_TRUE(*d);
  EXPECT_EQ((*d)->entries.size(), 2u);  // one per snapshot
  ASSERT_EQ((*d)->parts.size(), 2u);
  EXPECT_EQ((*d)->address, 0x1000u);
  EXPECT_EQ((*d)->dump_size, 10u);
  EXPECT_EQ((*d)->parts[1].start, 0x3000u);
  EXPECT_EQ((*d)->parts[1].offset, 4u);
  // Byte 2 of snapshot 1's second part ('8'), by logical offset and by address.
  const std::uint64_t at = (*d)->file_offset(10 + 4 + 2);
  EXPECT_EQ(at, (*records)[3].data_offset + 2);
  EXPECT_EQ((*d)->file_offset_of(1, 0x3002), at);
  EXPECT_FALSE((*d)->file_offset_of(1, 0x2000));  // between the parts: not in the dump
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(at));
  EXPECT_EQ(in.get(), '8');

  // A snapshot that lost a part, parts out of order, a layout that changes: one message each.
  auto refused = [&](const std::string& name, const std::string& bytes, const std::string& why) {
    const std::string file = dir.file(name);
    std::ofstream(file, std::ios::binary) << bytes;
    auto r = open_snapshot_dumps(file);
    ASSERT_FALSE(r) << name;
    EXPECT_NE(r.error().message().find(why), std::string::npos) << r.error().message();
  };
  auto text = [&](const SnapshotRecord& r) {
    return format_snapshot_header(r.header) + std::string(r.bytes);
  };
  refused("lost.seq",
          text(part(0, 0, 0x1000, "abcd")) + text(part(0, 1, 0x3000, "012345")) +
              text(part(1, 1, 0x3000, "012345")),
          "record 2 is part 1/2, expected part 0/2 (snapshot 1)");
  refused("cut.seq",
          text(part(0, 0, 0x1000, "abcd")) + text(part(0, 1, 0x3000, "012345")) +
              text(part(1, 0, 0x1000, "abcd")),
          "the last snapshot has 1 of its 2 parts");
  refused("order.seq", text(part(0, 0, 0x3000, "abcd")) + text(part(0, 1, 0x1000, "012345")),
          "must be in ascending order");
  refused("layout.seq",
          text(part(0, 0, 0x1000, "abcd")) + text(part(0, 1, 0x3000, "012345")) +
              text(part(1, 0, 0x1000, "abcd")) + text(part(1, 1, 0x4000, "012345")),
          "snapshot 1 holds 0x4000..0x4006, snapshot 0 0x3000..0x3006");
  EXPECT_FALSE(parse_snapshot_header("MPHEAP-SNAPSHOT 1 start=0x10 end=0x20 part=2/2", "f", 0));
  EXPECT_FALSE(parse_snapshot_header("MPHEAP-SNAPSHOT 1 start=0x10 end=0x20 part=1", "f", 0));
}

}  // namespace
}  // namespace mpheap::io
