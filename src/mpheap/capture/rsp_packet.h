// The GDB remote serial protocol's framing and reply formats as pure functions over bytes:
// `$payload#cs` packets with escapes and run-length encoding, acks, hex memory replies, `E NN`
// errors, qSupported features and stop replies. No sockets here: rsp_client does the I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/util/error.h"

namespace mpheap::capture::rsp {

// The modulo-256 sum of the payload's bytes as sent (after escaping).
std::uint8_t checksum(std::string_view escaped);

// "$" + payload with '#', '$', '}' and '*' escaped as '}' (c ^ 0x20) + "#" + two hex digits.
std::string frame(std::string_view payload);

// One unit of what a stub sends.
struct Received {
  enum class Kind {
    ack,           // '+'
    nack,          // '-': resend the last packet
    packet,        // '$...#cs' with a good checksum; payload unescaped and run-length expanded
    notification,  // '%...#cs' (non-stop mode); payload as for packet
    bad_packet,    // checksum mismatch or bad run length; payload says what
  };
  Kind kind = Kind::ack;
  std::string payload;
};

// Incremental decoder of the byte stream from a stub: feed bytes as they arrive, take units out.
// Bytes outside packets (other than '+' and '-') are skipped, as gdb does.
class PacketDecoder {
 public:
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete unit, nullopt when more bytes are needed.
  std::optional<Received> next();
  [[nodiscard]] std::size_t buffered() const { return buffer_.size() - pos_; }
  void clear() {
    buffer_.clear();
    pos_ = 0;
  }

  // A packet longer than this without its '#' is dropped (a stub gone mad or line noise).
  static constexpr std::size_t kMaxPacket = 1U << 20;

 private:
  std::string buffer_;
  std::size_t pos_ = 0;
};

// Unescapes '}' sequences and expands "X*n" runs (n - 29 more copies of X). nullopt when a run
// length is out of range, a run has nothing to repeat or an escape is cut off.
std::optional<std::string> decode_payload(std::string_view escaped);

// An `E NN` error reply ("E01", also "E.message" of newer stubs); nullopt for other payloads.
std::optional<std::string> error_reply(std::string_view payload);

// Hex digits to bytes; nullopt for an odd count or a non-hex digit.
std::optional<std::vector<std::uint8_t>> decode_hex(std::string_view hex);
std::string encode_hex(std::string_view bytes);

// The reply to `m addr,len`: exactly `length` bytes, or an error saying what came instead.
Expected<std::vector<std::uint8_t>> memory_reply(std::string_view payload, std::uint64_t address,
                                                 std::uint64_t length);

// What the stub's qSupported reply says about packet size and modes.
struct Features {
  std::size_t packet_size = 400;  // gdb's default when the stub does not say
  bool no_ack_mode = false;       // QStartNoAckMode+
  bool swbreak = false;
  bool hwbreak = false;
};
Features parse_supported(std::string_view payload);

// Bytes of memory one `m` request may ask for so that the hex reply fits the packet size.
std::uint64_t memory_chunk(std::size_t packet_size);

// A stop reply: `S sig`, `T sig n:r;...`, `W code` (exited), `X sig` (killed), or `O hex`
// (console output while running, not a stop).
struct StopReply {
  enum class Kind { signal, exited, killed, output };
  Kind kind = Kind::signal;
  std::uint8_t code = 0;  // signal or exit status
  std::string text;       // decoded console output for `O`; the T reply's pairs otherwise
};
std::optional<StopReply> parse_stop_reply(std::string_view payload);
// The `thread:ID;` pair of a T reply.
std::optional<std::string> stop_thread(const StopReply& stop);
// A register the stub sent along with a T reply (`NN:hex;`, NN its number in the `g` order:
// gdbserver sends the frame pointer, stack pointer and pc), in the target's byte order.
std::optional<std::uint64_t> stop_register(const StopReply& stop, int number, bool little_endian);
// The value of `type` in an auxiliary vector (`qXfer:auxv:read`: pairs of words, ended by
// type 0), e.g. AT_ENTRY (9), the program's run-time entry point.
std::optional<std::uint64_t> auxv_value(std::string_view auxv, std::uint64_t type,
                                        std::uint32_t word_size, bool little_endian);

// Bytes as a readable string for messages and traces: \xNN for control bytes, cut at 200.
std::string printable(std::string_view bytes, std::size_t max = 200);

// Requests.
std::string read_memory_request(std::uint64_t address, std::uint64_t length);
// `Z type,addr,kind` / `z type,addr,kind` (type 0 software, 1 hardware breakpoint).
std::string breakpoint_request(bool insert, int type, std::uint64_t address, int kind);

}  // namespace mpheap::capture::rsp
