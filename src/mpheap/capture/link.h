// A byte link to a board's REPL: a serial device (termios, raw 8N1), a TCP socket (QEMU
// `-serial tcp:...`, ser2net) or a unix socket (QEMU `-chardev socket,path=...`). Only moves
// bytes; the REPL protocol is raw_repl's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "mpheap/util/error.h"

namespace mpheap::capture {

// What a board printed, for messages: control bytes as \xNN, cut to `limit` characters.
std::string printable_excerpt(std::string_view bytes, std::size_t limit = 120);

// MPHEAP_REPL_DEBUG set in the environment: the traffic goes to stderr.
class Link {
 public:
  // "tcp:HOST:PORT", "unix:PATH", or a serial device: a path, or a name under /dev
  // ("ttyACM0"). `baud` applies to serial devices only.
  static Expected<std::unique_ptr<Link>> open(std::string_view spec, std::uint32_t baud = 115200,
                                              int connect_timeout_ms = 5000);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  Expected<bool> write(std::string_view bytes);
  // Appends what arrives within `timeout_ms` (at least one byte, then whatever else is already
  // there) to `out`; false when nothing came. An error when the link closed.
  Expected<bool> read_some(std::string& out, int timeout_ms);
  // Drops whatever arrives within `quiet_ms` of silence (old output before a command).
  void drain(int quiet_ms);

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::uint64_t bytes_sent() const { return sent_; }
  [[nodiscard]] std::uint64_t bytes_received() const { return received_; }

 private:
  Link(int fd, std::string name);
  [[nodiscard]] Error error(std::string what, ErrorKind kind = ErrorKind::io) const;
  int fd_ = -1;
  std::string name_;
  std::uint64_t sent_ = 0, received_ = 0;
  bool debug_ = false;
};

}  // namespace mpheap::capture
