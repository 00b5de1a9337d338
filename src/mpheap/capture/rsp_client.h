// A GDB remote serial protocol client over TCP: enough of the protocol to halt a target, read
// its memory in packet-sized chunks, set breakpoints and let it run again (docs/capture.md lists
// the subset). Framing and decoding live in rsp_packet; this class only moves bytes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/capture/rsp_packet.h"
#include "mpheap/util/error.h"

namespace mpheap::capture {

// "HOST:PORT", ":PORT" or "PORT" (localhost).
struct RemoteAddress {
  std::string host = "localhost";
  std::uint16_t port = 0;
  [[nodiscard]] std::string text() const;
};
Expected<RemoteAddress> parse_remote(std::string_view spec);

class RspClient {
 public:
  // Connects (within `timeout_ms`) and negotiates: qSupported (packet size), QStartNoAckMode
  // when offered, `?` (is the target running or stopped). A stub that accepts the connection
  // but does not answer within `timeout_ms` is an error.
  static Expected<std::unique_ptr<RspClient>> connect(const RemoteAddress& remote,
                                                      int timeout_ms = 3000);
  ~RspClient();
  RspClient(const RspClient&) = delete;
  RspClient& operator=(const RspClient&) = delete;

  [[nodiscard]] const rsp::Features& features() const { return features_; }
  [[nodiscard]] bool stopped() const { return stopped_; }
  [[nodiscard]] const RemoteAddress& remote() const { return remote_; }

  // Sends one packet and returns the reply's payload; `skip_stop_replies` for requests whose
  // reply is hex (m, g), where a repeated stop reply is recognisable and dropped.
  Expected<std::string> request(std::string_view payload, bool skip_stop_replies = false);
  // `length` bytes at `address`, in chunks the packet size allows; the target must be stopped.
  Expected<bool> read_memory(std::uint64_t address, std::uint64_t length, std::uint8_t* out);
  // The `g` reply: all registers in the target's order, as hex.
  Expected<std::string> read_registers();
  // `g` and `length` bytes at `address` together: in one write (one round trip) when the stub
  // does not acknowledge packets, else one after the other. The memory read failing is not an
  // error: `*memory_read` says whether `out` was filled.
  Expected<std::string> read_registers_and_memory(std::uint64_t address, std::uint64_t length,
                                                  std::uint8_t* out, bool* memory_read);
  // The last stop reply (its expedited registers).
  [[nodiscard]] const rsp::StopReply& last_stop() const { return last_stop_; }
  [[nodiscard]] bool acknowledges() const { return ack_mode_; }
  // Stops a running target (0x03) and waits for its stop reply.
  Expected<rsp::StopReply> halt();
  // Lets a stopped target run (`c`); the stop reply comes later, to wait_stop().
  Expected<bool> resume();
  // One instruction (`s`), waiting for its stop reply.
  Expected<rsp::StopReply> step();
  // Waits for a stop reply of a running target for up to `timeout_ms` (or until `*cancel`);
  // an Error of kind timeout when none came, cancelled when `*cancel` was set.
  Expected<rsp::StopReply> wait_stop(int timeout_ms, const std::atomic<bool>* cancel = nullptr);
  Expected<bool> set_breakpoint(bool insert, std::uint64_t address, int kind);
  // Inserts a breakpoint of `first_type` (0 software, 1 hardware), else of the other type;
  // returns the type the stub took. Removal names the type.
  Expected<int> insert_breakpoint(std::uint64_t address, int kind, int first_type);
  Expected<bool> remove_breakpoint(std::uint64_t address, int kind, int type);
  // From a stop at a breakpoint at `address` that the stub would report again (gdbserver,
  // OpenOCD): removes it, steps, inserts it again and continues. Without acknowledgements the
  // four packets go in one write and cost one round trip; else one after the other. Returns the
  // step's stop reply: the target runs on only when it is a signal (else the program ended).
  Expected<rsp::StopReply> step_off_and_continue(std::uint64_t address, int kind, int type = 0);
  // Lets the target run on and closes the connection (`D`); errors are ignored.
  void detach();

  // Bytes sent and received so far (for the benchmark).
  [[nodiscard]] std::uint64_t bytes_received() const { return received_bytes_; }
  // Packets sent so far, and the waits for answers among them (packets sent together in one
  // write wait once; `c` waits for the next stop): the round trips decide the speed over a slow
  // link such as a debug probe's.
  [[nodiscard]] std::uint64_t packets_sent() const { return packets_sent_; }
  [[nodiscard]] std::uint64_t round_trips() const { return round_trips_; }

 private:
  RspClient(int fd, RemoteAddress remote, int timeout_ms);
  Expected<bool> send_packet(std::string_view payload);
  Expected<bool> send_raw(std::string_view bytes);
  // The next packet (acking it in ack mode), within the timeout.
  Expected<std::string> receive_packet(int timeout_ms, const std::atomic<bool>* cancel = nullptr);
  // Reads whatever arrives within `timeout_ms` into the decoder; false on timeout.
  Expected<bool> fill(int timeout_ms);
  [[nodiscard]] Error error(std::string what, ErrorKind kind = ErrorKind::bad_input) const;

  int fd_ = -1;
  RemoteAddress remote_;
  int timeout_ms_ = 3000;
  bool debug_ = false;  // MPHEAP_RSP_DEBUG set: the traffic on stderr
  bool ack_mode_ = true;
  bool stopped_ = true;
  std::string thread_;  // the thread of the last stop reply (`thread:` in T), if any
  rsp::StopReply last_stop_;
  rsp::Features features_;
  rsp::PacketDecoder decoder_;
  std::string last_sent_;
  std::uint64_t received_bytes_ = 0;
  std::uint64_t packets_sent_ = 0;
  std::uint64_t round_trips_ = 0;
};

}  // namespace mpheap::capture
