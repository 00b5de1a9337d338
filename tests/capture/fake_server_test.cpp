// The remote protocol client and snapshot capture against an in-process fake gdb server, and
// `mpheap capture snapshots` with bad input: one message, non-zero exit, no file left behind.
#include <gtest/gtest.h>

#include <filesystem>

#include "capture/fake_stub.h"
#include "capture/process_util.h"
#include "cli/cli_runner.h"
#include "mpheap/capture/rsp_client.h"
#include "mpheap/capture/snapshots.h"
#include "mpheap/io/snapshot_sequence.h"
#include "trace/test_util.h"

namespace mpheap::capture {
namespace {

using mpheap::testing::FakeStub;

RemoteAddress local(int port) {
  RemoteAddress r;
  r.host = "127.0.0.1";
  r.port = static_cast<std::uint16_t>(port);
  return r;
}

TEST(CaptureFakeServer, ReadsMemoryInPacketSizedChunks) {
  for (bool no_ack : {true, false}) {
    FakeStub::Options o;
    o.no_ack_mode = no_ack;
    FakeStub stub(o);
    auto c = RspClient::connect(local(stub.port()), 2000);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ((*c)->features().packet_size, 0x100u);
    EXPECT_EQ((*c)->features().no_ack_mode, no_ack);
    std::vector<std::uint8_t> got(0x400);
    auto r = (*c)->read_memory(0x1000, got.size(), got.data());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(got, stub.memory());
    EXPECT_GE(stub.memory_requests.load(), 0x400 / 0x78);
    auto regs = (*c)->read_registers();
    ASSERT_TRUE(regs);
    EXPECT_EQ(*regs, "0011223344556677");
    (*c)->detach();
  }
}

TEST(CaptureFakeServer, UnreadableMemoryIsAnError) {
  FakeStub stub({});
  auto c = RspClient::connect(local(stub.port()), 2000);
  ASSERT_TRUE(c) << c.error().message();
  std::vector<std::uint8_t> got(0x10);
  auto r = (*c)->read_memory(0x5000, got.size(), got.data());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("0x5000..0x5010"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("E14"), std::string::npos);
}

TEST(CaptureFakeServer, SnapshotsEveryInterval) {
  FakeStub stub({});
  auto c = RspClient::connect(local(stub.port()), 2000);
  ASSERT_TRUE(c) << c.error().message();
  SnapshotPlan plan;
  plan.start = 0x1100;
  plan.end = 0x1300;
  plan.every_ms = 10;
  plan.count = 3;
  std::vector<io::SnapshotHeader> headers;
  auto sink = [&](const io::SnapshotHeader& h, std::span<const std::uint8_t> b) -> Expected<bool> {
    headers.push_back(h);
    EXPECT_TRUE(std::equal(b.begin(), b.end(), stub.memory().begin() + 0x100));
    return true;
  };
  auto stats = capture_snapshots(**c, plan, sink, nullptr);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->snapshots, 3u);
  EXPECT_EQ(stats->end, CaptureEnd::count_reached);
  ASSERT_EQ(headers.size(), 3u);
  EXPECT_EQ(headers[2].index, 2u);
  EXPECT_GE(headers[2].time_ms, 20.0);
  EXPECT_EQ(headers[0].trigger, "every:10ms");
  EXPECT_EQ(headers[0].registers, "0011223344556677");
  EXPECT_EQ(stub.interrupts.load(), 2);  // the first snapshot is taken at the connect halt
}

TEST(CaptureFakeServer, SnapshotsOnBreakpointStepOffIt) {
  FakeStub stub({});
  auto c = RspClient::connect(local(stub.port()), 2000);
  ASSERT_TRUE(c) << c.error().message();
  SnapshotPlan plan;
  plan.start = 0x1000;
  plan.end = 0x1010;
  plan.on_address = 0x1234;
  plan.on_label = "0x1234";
  plan.count = 3;
  std::uint64_t n = 0;
  auto sink = [&](const io::SnapshotHeader& h, std::span<const std::uint8_t>) -> Expected<bool> {
    EXPECT_EQ(h.trigger, "on:0x1234");
    ++n;
    return true;
  };
  auto stats = capture_snapshots(**c, plan, sink, nullptr);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(stub.breakpoint_hits.load(), 3);
  EXPECT_EQ(stub.steps.load(), 2);
}

TEST(CaptureFakeServer, InterruptFlagEndsCapture) {
  FakeStub stub({});
  auto c = RspClient::connect(local(stub.port()), 2000);
  ASSERT_TRUE(c);
  SnapshotPlan plan;
  plan.start = 0x1000;
  plan.end = 0x1010;
  plan.every_ms = 5;
  std::atomic<bool> stop{false};
  auto sink = [&](const io::SnapshotHeader& h, std::span<const std::uint8_t>) -> Expected<bool> {
    if (h.index == 4) stop = true;
    return true;
  };
  auto stats = capture_snapshots(**c, plan, sink, &stop);
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->snapshots, 5u);
  EXPECT_EQ(stats->end, CaptureEnd::interrupted);
}

TEST(CaptureFakeServer, SilentServerAndNoServerAreErrors) {
  FakeStub::Options o;
  o.answer = false;
  FakeStub silent(o);
  auto c = RspClient::connect(local(silent.port()), 300);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("handshake failed"), std::string::npos) << c.error().message();
  auto none = RspClient::connect(local(mpheap::testing::free_port()), 300);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message().find("cannot connect"), std::string::npos)
      << none.error().message();
}

TEST(CaptureFakeServer, RemoteAndRangeSyntax) {
  auto r = parse_remote("localhost:3333");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->port, 3333);
  EXPECT_EQ(parse_remote(":1234")->host, "localhost");
  EXPECT_FALSE(parse_remote("host:99999"));
  EXPECT_FALSE(parse_remote("host:"));
  auto range = parse_range("0x20000000:0x20004000", "--ram");
  ASSERT_TRUE(range);
  EXPECT_EQ(range->second - range->first, 0x4000u);
  EXPECT_EQ(parse_range("0x20000000+16384", "--ram")->second, 0x20004000u);
  EXPECT_FALSE(parse_range("0x20004000:0x20000000", "--ram"));
  EXPECT_FALSE(parse_range("0x2000", "--ram"));
}

// The CLI against the fake server.
TEST(CaptureSnapshotsCli, WritesACompleteSequence) {
  FakeStub stub({});
  mpheap::testing::TempDir dir("snapcli");
  const std::string out = dir.file("ram.seq");
  auto run = mpheap::testing::run_mpheap(
      fmt::format("capture snapshots --remote 127.0.0.1:{} --ram 0x1000:0x1400 --every 5 --count "
                  "4 -o {}",
                  stub.port(), out),
      true);
  EXPECT_EQ(run.status, 0) << run.out;
  auto idx = io::index_snapshot_sequence_file(out);
  ASSERT_TRUE(idx) << idx.error().message();
  EXPECT_EQ(idx->size(), 4u);
  EXPECT_FALSE(std::filesystem::exists(out + ".part"));
  EXPECT_TRUE(stub.detached.load());
}

TEST(CaptureSnapshotsCli, CtrlCEndsWithCompleteFile) {
  FakeStub stub({});
  mpheap::testing::TempDir dir("snapint");
  const std::string out = dir.file("ram.seq");
  mpheap::testing::ChildProcess capture(
      {MPHEAP_CLI, "capture", "snapshots", "--remote", fmt::format("127.0.0.1:{}", stub.port()),
       "--ram", "0x1000:0x1400", "--every", "20", "-o", out},
      dir.file("out.txt"));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  capture.signal(SIGINT);
  EXPECT_EQ(capture.wait(std::chrono::seconds(10)), 0)
      << mpheap::testing::read_file(dir.file("out.txt"));
  auto idx = io::index_snapshot_sequence_file(out);
  ASSERT_TRUE(idx) << idx.error().message();
  EXPECT_GE(idx->size(), 3u);
  EXPECT_NE(mpheap::testing::read_file(dir.file("out.txt")).find("(interrupted)"),
            std::string::npos);
  EXPECT_TRUE(stub.detached.load());
}

TEST(CaptureSnapshotsCli, BadInputLeavesNothingBehind) {
  mpheap::testing::TempDir dir("snapbad");
  const std::string out = dir.file("ram.seq");
  {
    FakeStub stub({});
    auto run = mpheap::testing::run_mpheap(
        fmt::format("capture snapshots --remote 127.0.0.1:{} --ram 0x8000:0x8100 --count 2 -o {}",
                    stub.port(), out),
        true);
    EXPECT_EQ(run.status, 1);
    EXPECT_NE(run.out.find("not readable: the target answered E14"), std::string::npos) << run.out;
    EXPECT_EQ(std::count(run.out.begin(), run.out.end(), '\n'), 1) << run.out;
  }
  auto refused = mpheap::testing::run_mpheap(
      fmt::format("capture snapshots --remote 127.0.0.1:{} --ram 0x8000:0x8100 -o {}",
                  mpheap::testing::free_port(), out),
      true);
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.out.find("cannot connect"), std::string::npos) << refused.out;
  auto bad_range =
      mpheap::testing::run_mpheap("capture snapshots --remote :1 --ram 0x10 -o " + out, true);
  EXPECT_EQ(bad_range.status, 1);
  EXPECT_NE(bad_range.out.find("expected START:END"), std::string::npos) << bad_range.out;
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_FALSE(std::filesystem::exists(out + ".part"));
}

}  // namespace
}  // namespace mpheap::capture
