// GDB remote protocol framing and reply decoding, without sockets.
#include "mpheap/capture/rsp_packet.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace mpheap::capture::rsp {
namespace {

std::string fmt_checksum_for_test(std::string_view escaped) {
  char buf[3];
  std::snprintf(buf, sizeof buf, "%02x", checksum(escaped));
  return buf;
}

// A packet whose payload is sent as is (already escaped / run-length encoded).
std::string frame_raw_for_test(std::string_view escaped) {
  return "$" + std::string(escaped) + "#" + fmt_checksum_for_test(escaped);
}

TEST(CaptureRspPacket, FramesWithChecksumAndEscapes) {
  EXPECT_EQ(frame("?"), "$?#3f");
  EXPECT_EQ(frame("m20000000,10"), "$m20000000,10#" + fmt_checksum_for_test("m20000000,10"));
  // '#', '$', '}' and '*' are escaped as '}' + (c ^ 0x20), and the checksum covers the escapes.
  EXPECT_EQ(frame("a#b"),
            "$a}\x03"
            "b#" +
                fmt_checksum_for_test("a}\x03"
                                      "b"));
  EXPECT_EQ(checksum(""), 0);
  EXPECT_EQ(checksum("OK"), 0x9a);
}

TEST(CaptureRspPacket, DecoderSplitsAcksAndPacketsAcrossReads) {
  PacketDecoder d;
  d.feed("+$O");
  auto ack = d.next();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->kind, Received::Kind::ack);
  EXPECT_FALSE(d.next());  // the packet is not complete yet
  d.feed("K#9");
  EXPECT_FALSE(d.next());  // one checksum digit missing
  d.feed("a-");
  auto ok = d.next();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->kind, Received::Kind::packet);
  EXPECT_EQ(ok->payload, "OK");
  auto nack = d.next();
  ASSERT_TRUE(nack);
  EXPECT_EQ(nack->kind, Received::Kind::nack);
  EXPECT_FALSE(d.next());
}

TEST(CaptureRspPacket, BadChecksumIsReported) {
  PacketDecoder d;
  d.feed("$OK#00$OK#9a");
  auto bad = d.next();
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->kind, Received::Kind::bad_packet);
  EXPECT_NE(bad->payload.find("checksum"), std::string::npos);
  auto good = d.next();
  ASSERT_TRUE(good);
  EXPECT_EQ(good->kind, Received::Kind::packet);
}

TEST(CaptureRspPacket, RunLengthAndEscapesAreExpanded) {
  // "0* " = '0' and 3 more: "0000"; "}]" = '}' ^ 0x20... i.e. ']' ^ 0x20 = '}'.
  EXPECT_EQ(decode_payload("0* "), "0000");
  EXPECT_EQ(decode_payload("ab*\"c"), "abbbbbbc");  // '"' = 34: 5 more b
  EXPECT_EQ(decode_payload("}]"), "}");
  EXPECT_FALSE(decode_payload("*4"));      // nothing to repeat
  EXPECT_FALSE(decode_payload("a*"));      // cut off
  EXPECT_FALSE(decode_payload("a*\x01"));  // run length out of range
  EXPECT_FALSE(decode_payload("}"));       // cut-off escape
  PacketDecoder d;
  const std::string rle = "0*~";  // '~' = 126: 97 more zeros
  d.feed(frame_raw_for_test(rle));
  auto p = d.next();
  ASSERT_TRUE(p);
  ASSERT_EQ(p->kind, Received::Kind::packet);
  EXPECT_EQ(p->payload, std::string(98, '0'));
}

TEST(CaptureRspPacket, MemoryRepliesAndErrors) {
  auto ok = memory_reply("0102ff", 0x1000, 3);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, (std::vector<std::uint8_t>{1, 2, 0xff}));
  auto e = memory_reply("E14", 0x1000, 3);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("not readable: the target answered E14"), std::string::npos);
  EXPECT_NE(e.error().message().find("0x1000..0x1003"), std::string::npos);
  EXPECT_FALSE(memory_reply("01", 0x1000, 3));
  EXPECT_FALSE(memory_reply("0g0000", 0x1000, 3));
  EXPECT_FALSE(memory_reply("", 0x1000, 3));
  EXPECT_TRUE(error_reply("E.not readable"));
  EXPECT_FALSE(error_reply("E1"));
  EXPECT_EQ(encode_hex(std::string("\x01\xab", 2)), "01ab");
}

TEST(CaptureRspPacket, SupportedFeaturesAndChunks) {
  Features f = parse_supported("PacketSize=1000;qXfer:features:read+;QStartNoAckMode+;swbreak+");
  EXPECT_EQ(f.packet_size, 0x1000u);
  EXPECT_TRUE(f.no_ack_mode);
  EXPECT_TRUE(f.swbreak);
  EXPECT_FALSE(f.hwbreak);
  Features none = parse_supported("");
  EXPECT_EQ(none.packet_size, 400u);
  EXPECT_FALSE(none.no_ack_mode);
  EXPECT_EQ(parse_supported("PacketSize=zz").packet_size, 400u);
  EXPECT_EQ(memory_chunk(0x1000), (0x1000u - 16) / 2);
  EXPECT_GE(memory_chunk(1), 8u);
}

TEST(CaptureRspPacket, StopReplies) {
  auto t = parse_stop_reply("T05thread:01;");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, StopReply::Kind::signal);
  EXPECT_EQ(t->code, 5);
  EXPECT_EQ(stop_thread(*t), "01");
  EXPECT_EQ(stop_thread(*parse_stop_reply("T05swbreak:;06:58e5;thread:p24b4.24b4;core:0;")),
            "p24b4.24b4");
  EXPECT_FALSE(stop_thread(*parse_stop_reply("S05")));
  auto w = parse_stop_reply("W00");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->kind, StopReply::Kind::exited);
  auto o = parse_stop_reply("O6869");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->kind, StopReply::Kind::output);
  EXPECT_EQ(o->text, "hi");
  EXPECT_FALSE(parse_stop_reply("OK"));
  EXPECT_FALSE(parse_stop_reply("S"));
  EXPECT_FALSE(parse_stop_reply(""));
  EXPECT_EQ(read_memory_request(0x20000000, 0x7f8), "m20000000,7f8");
  EXPECT_EQ(breakpoint_request(true, 0, 0x1234, 2), "Z0,1234,2");
  EXPECT_EQ(breakpoint_request(false, 1, 0x1234, 4), "z1,1234,4");
}

}  // namespace
}  // namespace mpheap::capture::rsp

namespace mpheap::capture::rsp {
namespace {

// gdbserver's T reply sends rbp (06), rsp (07) and rip (10 = 16) along, little endian, with
// run-length encoding undone by the decoder.
TEST(RspStopRegisters, ExpeditedRegistersOfAStop) {
  auto stop = parse_stop_reply(
      "T05swbreak:;06:f0e5ffffff7f0000;07:e8e5ffffff7f0000;10:8351555555550000;thread:p145d.145d;"
      "core:1;");
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop_register(*stop, 7, true), 0x7fffffffe5e8u);
  EXPECT_EQ(stop_register(*stop, 16, true), 0x555555555183u);
  EXPECT_EQ(stop_register(*stop, 6, false), 0xf0e5ffffff7f0000u);
  EXPECT_FALSE(stop_register(*stop, 13, true));       // not sent
  auto bare = parse_stop_reply("T05thread:p01.01;");  // QEMU sends none
  ASSERT_TRUE(bare);
  EXPECT_FALSE(stop_register(*bare, 13, true));
  auto odd = parse_stop_reply("T0507:e8e5f;10:zz;");  // odd and non-hex values are ignored
  ASSERT_TRUE(odd);
  EXPECT_FALSE(stop_register(*odd, 7, true));
  EXPECT_FALSE(stop_register(*odd, 16, true));
}

TEST(RspStopRegisters, AuxiliaryVectorEntry) {
  // AT_PHDR (3) = 0x555555554040, AT_ENTRY (9) = 0x555555555080, AT_NULL.
  std::string auxv;
  auto put = [&](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) auxv.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  for (std::uint64_t v : {3ULL, 0x555555554040ULL, 9ULL, 0x555555555080ULL, 0ULL, 0ULL}) put(v);
  EXPECT_EQ(auxv_value(auxv, 9, 8, true), 0x555555555080u);
  EXPECT_EQ(auxv_value(auxv, 3, 8, true), 0x555555554040u);
  EXPECT_FALSE(auxv_value(auxv, 25, 8, true));               // after AT_NULL: not looked at
  EXPECT_FALSE(auxv_value(auxv.substr(0, 20), 9, 8, true));  // cut short
  EXPECT_FALSE(auxv_value(auxv, 9, 3, true));                // no such word size
}

}  // namespace
}  // namespace mpheap::capture::rsp
