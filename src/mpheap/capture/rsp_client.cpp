// The GDB remote protocol client's socket side: connect with a timeout, send and receive
// packets with acks until no-ack mode is on, chunked memory reads, halt and resume.
#include "mpheap/capture/rsp_client.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "mpheap/util/number.h"

namespace mpheap::capture {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

std::string RemoteAddress::text() const {
  return fmt::format("{}:{}", host, port);
}

Expected<RemoteAddress> parse_remote(std::string_view spec) {
  RemoteAddress r;
  std::string_view port = spec;
  if (auto colon = spec.rfind(':'); colon != std::string_view::npos) {
    if (colon > 0) r.host = std::string(spec.substr(0, colon));
    port = spec.substr(colon + 1);
  }
  // [::1]:1234
  if (r.host.size() > 2 && r.host.front() == '[' && r.host.back() == ']')
    r.host = r.host.substr(1, r.host.size() - 2);
  auto p = parse_uint(port);
  if (!p || *p == 0 || *p > 65535)
    return Error{"--remote", 0, 0,
                 fmt::format("expected HOST:PORT (a TCP port 1..65535), found '{}'", spec)};
  r.port = static_cast<std::uint16_t>(*p);
  return r;
}

RspClient::RspClient(int fd, RemoteAddress remote, int timeout_ms)
    : fd_(fd),
      remote_(std::move(remote)),
      timeout_ms_(timeout_ms),
      debug_(std::getenv("MPHEAP_RSP_DEBUG") != nullptr) {}

RspClient::~RspClient() {
  if (fd_ >= 0) ::close(fd_);
}

Error RspClient::error(std::string what, ErrorKind kind) const {
  return Error{remote_.text(), 0, 0, std::move(what), kind};
}

Expected<std::unique_ptr<RspClient>> RspClient::connect(const RemoteAddress& remote,
                                                        int timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = std::to_string(remote.port);
  if (int rc = getaddrinfo(remote.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return Error{remote.text(), 0, 0, fmt::format("cannot resolve host: {}", gai_strerror(rc))};
  std::string last_error = "no address";
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    int s =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (s < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int rc = ::connect(s, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{s, POLLOUT, 0};
      rc = ::poll(&p, 1, timeout_ms);
      if (rc == 0) {
        last_error = fmt::format("no answer within {} ms", timeout_ms);
        rc = -1;
      } else if (rc > 0) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        if (err != 0) last_error = std::strerror(err);
      } else {
        last_error = std::strerror(errno);
      }
    } else if (rc != 0) {
      last_error = std::strerror(errno);
    }
    if (rc == 0) {
      fd = s;
    } else {
      ::close(s);
    }
  }
  freeaddrinfo(found);
  if (fd < 0)
    return Error{
        remote.text(), 0, 0,
        fmt::format("cannot connect: {} (is the gdb server running on this port?)", last_error)};
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::unique_ptr<RspClient> c(new RspClient(fd, remote, timeout_ms));

  // gdb starts with an ack of anything the stub may have sent already.
  if (auto sent = c->send_raw("+"); !sent) return sent.error();
  auto supported = c->request("qSupported:swbreak+;hwbreak+");
  if (!supported)
    return c->error(
        fmt::format("the connection was accepted but the GDB remote protocol "
                    "handshake failed: {}",
                    supported.error().what));
  c->features_ = rsp::parse_supported(*supported);
  if (c->features_.no_ack_mode) {
    auto ok = c->request("QStartNoAckMode");
    if (ok && *ok == "OK") c->ack_mode_ = false;
  }
  auto why = c->request("?");
  if (!why) return why.error();
  auto stop = rsp::parse_stop_reply(*why);
  if (!stop)
    return c->error(fmt::format("expected a stop reply to '?', found '{}'", why->substr(0, 40)));
  if (stop->kind == rsp::StopReply::Kind::exited || stop->kind == rsp::StopReply::Kind::killed)
    return c->error("the target has no running program (it exited)");
  c->stopped_ = true;
  return c;
}

Expected<bool> RspClient::send_raw(std::string_view bytes) {
  if (debug_) fmt::print(stderr, "rsp -> {}\n", rsp::printable(bytes));
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return error(fmt::format("cannot send: {}", std::strerror(errno)));
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) == 0)
      return error(fmt::format("cannot send within {} ms", timeout_ms_));
  }
  return true;
}

Expected<bool> RspClient::fill(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  int rc = ::poll(&p, 1, timeout_ms);
  if (rc < 0 && errno == EINTR) return false;
  if (rc < 0) return error(fmt::format("cannot wait for data: {}", std::strerror(errno)));
  if (rc == 0) return false;
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n == 0) return error("the gdb server closed the connection");
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
    return error(fmt::format("cannot receive: {}", std::strerror(errno)));
  }
  received_bytes_ += static_cast<std::uint64_t>(n);
  if (debug_)
    fmt::print(stderr, "rsp <- {}\n",
               rsp::printable(std::string_view(buf, static_cast<std::size_t>(n))));
  decoder_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
  return true;
}

Expected<bool> RspClient::send_packet(std::string_view payload) {
  last_sent_ = rsp::frame(payload);
  ++packets_sent_;
  if (auto sent = send_raw(last_sent_); !sent) return sent;
  if (!ack_mode_) return true;
  // Wait for '+'; resend on '-' a few times.
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  for (int resends = 0;;) {
    while (auto unit = decoder_.next()) {
      if (unit->kind == rsp::Received::Kind::ack) return true;
      if (unit->kind == rsp::Received::Kind::nack) {
        if (++resends > 3) return error("the gdb server rejected a packet 3 times");
        if (auto sent = send_raw(last_sent_); !sent) return sent;
      }
      // A packet before the ack cannot answer this request: a stale stop reply (QEMU sends
      // one for the halt it does when a debugger connects). Acknowledge and drop it.
      if (unit->kind == rsp::Received::Kind::packet)
        if (auto sent = send_raw("+"); !sent) return sent;
    }
    if (remaining_ms(deadline) == 0)
      return error(fmt::format("no acknowledgement of '{}' within {} ms", payload.substr(0, 40),
                               timeout_ms_));
    auto got = fill(remaining_ms(deadline));
    if (!got) return got;
  }
}

Expected<std::string> RspClient::receive_packet(int timeout_ms, const std::atomic<bool>* cancel) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    while (auto unit = decoder_.next()) {
      switch (unit->kind) {
        case rsp::Received::Kind::packet:
          if (ack_mode_)
            if (auto sent = send_raw("+"); !sent) return sent.error();
          return std::move(unit->payload);
        case rsp::Received::Kind::bad_packet:
          if (!ack_mode_) return error(fmt::format("bad packet: {}", unit->payload));
          if (auto sent = send_raw("-"); !sent) return sent.error();
          break;
        default:
          break;  // stray acks, notifications
      }
    }
    if (cancel != nullptr && cancel->load()) return error("cancelled", ErrorKind::cancelled);
    int left = remaining_ms(deadline);
    if (left == 0) return error("timeout", ErrorKind::timeout);
    // Wake up now and then to look at the cancel flag.
    auto got = fill(cancel != nullptr ? std::min(left, 100) : left);
    if (!got) return got.error();
  }
}

Expected<std::string> RspClient::request(std::string_view payload, bool skip_stop_replies) {
  ++round_trips_;
  if (auto sent = send_packet(payload); !sent) return sent.error();
  for (;;) {
    auto reply = receive_packet(timeout_ms_);
    if (!reply && reply.error().kind == ErrorKind::timeout)
      return error(fmt::format("no reply to '{}' within {} ms", payload.substr(0, 40), timeout_ms_),
                   ErrorKind::timeout);
    // A stop reported twice (QEMU does now and then) arrives where a hex reply is due.
    if (reply && skip_stop_replies && !reply->empty() && ((*reply)[0] == 'T' || (*reply)[0] == 'S'))
      continue;
    return reply;
  }
}

Expected<bool> RspClient::read_memory(std::uint64_t address, std::uint64_t length,
                                      std::uint8_t* out) {
  const std::uint64_t chunk = rsp::memory_chunk(features_.packet_size);
  for (std::uint64_t done = 0; done < length;) {
    std::uint64_t n = std::min(chunk, length - done);
    auto reply = request(rsp::read_memory_request(address + done, n), true);
    if (!reply) return reply.error();
    auto bytes = rsp::memory_reply(*reply, address + done, n);
    if (!bytes) {
      // Some stubs answer a long read with fewer bytes: take what came and ask for the rest.
      auto partial = rsp::decode_hex(*reply);
      if (partial && !partial->empty() && partial->size() < n) {
        std::memcpy(out + done, partial->data(), partial->size());
        done += partial->size();
        continue;
      }
      return Error{remote_.text(), 0, 0, bytes.error().source + ": " + bytes.error().what};
    }
    std::memcpy(out + done, bytes->data(), bytes->size());
    done += n;
  }
  return true;
}

Expected<std::string> RspClient::read_registers() {
  auto reply = request("g", true);
  if (!reply) return reply;
  if (auto e = rsp::error_reply(*reply)) return error(fmt::format("'g' answered {}", *e));
  return reply;
}

Expected<std::string> RspClient::read_registers_and_memory(std::uint64_t address,
                                                           std::uint64_t length, std::uint8_t* out,
                                                           bool* memory_read) {
  *memory_read = false;
  const std::uint64_t chunk = rsp::memory_chunk(features_.packet_size);
  if (ack_mode_ || length == 0) {
    auto g = read_registers();
    if (!g) return g;
    *memory_read = length == 0 || static_cast<bool>(read_memory(address, length, out));
    return g;
  }
  std::string batch = rsp::frame("g");
  std::size_t requests = 1;
  for (std::uint64_t done = 0; done < length; done += chunk, ++requests)
    batch += rsp::frame(rsp::read_memory_request(address + done, std::min(chunk, length - done)));
  packets_sent_ += requests;
  ++round_trips_;
  if (auto sent = send_raw(batch); !sent) return sent.error();
  // The replies come in order; a stop reported twice is skipped as in request().
  auto next_reply = [&]() -> Expected<std::string> {
    for (;;) {
      auto reply = receive_packet(timeout_ms_);
      if (!reply && reply.error().kind == ErrorKind::timeout)
        return error(fmt::format("no reply to 'g' and 'm' within {} ms", timeout_ms_),
                     ErrorKind::timeout);
      if (reply && !reply->empty() && ((*reply)[0] == 'T' || (*reply)[0] == 'S')) continue;
      return reply;
    }
  };
  auto g = next_reply();
  if (!g) return g;
  bool ok = true;
  for (std::uint64_t done = 0; done < length; done += chunk) {
    const std::uint64_t n = std::min(chunk, length - done);
    auto reply = next_reply();
    if (!reply) return reply.error();
    auto bytes = rsp::memory_reply(*reply, address + done, n);
    if (!bytes) {
      ok = false;
      continue;
    }
    std::memcpy(out + done, bytes->data(), bytes->size());
  }
  if (auto e = rsp::error_reply(*g)) return error(fmt::format("'g' answered {}", *e));
  *memory_read = ok;
  return g;
}

Expected<rsp::StopReply> RspClient::halt() {
  if (auto sent = send_raw(std::string_view("\x03", 1)); !sent) return sent.error();
  auto stop = wait_stop(timeout_ms_);
  if (!stop && stop.error().kind == ErrorKind::timeout)
    return error(fmt::format("the target did not stop within {} ms of an interrupt", timeout_ms_),
                 ErrorKind::timeout);
  return stop;
}

Expected<bool> RspClient::resume() {
  // Drop anything left over (a stub that reported one stop twice) before the target runs.
  while (true) {
    auto got = fill(0);
    if (!got) return got;
    if (!*got) break;
  }
  while (decoder_.next()) {
  }
  ++round_trips_;
  if (auto sent = send_packet("c"); !sent) return sent;
  stopped_ = false;
  return true;
}

Expected<rsp::StopReply> RspClient::step() {
  // The stopped thread explicitly: gdbserver's bare `s` steps whatever its continue thread is,
  // which need not be the one at the breakpoint.
  std::string packet = thread_.empty() ? std::string("s") : "vCont;s:" + thread_;
  ++round_trips_;
  if (auto sent = send_packet(packet); !sent) return sent.error();
  stopped_ = false;
  return wait_stop(timeout_ms_);
}

Expected<rsp::StopReply> RspClient::wait_stop(int timeout_ms, const std::atomic<bool>* cancel) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto reply = receive_packet(remaining_ms(deadline), cancel);
    if (!reply) return reply.error();
    auto stop = rsp::parse_stop_reply(*reply);
    if (!stop || stop->kind == rsp::StopReply::Kind::output) continue;
    stopped_ = true;
    if (auto t = rsp::stop_thread(*stop)) thread_ = *t;
    last_stop_ = *stop;
    return *stop;
  }
}

Expected<bool> RspClient::set_breakpoint(bool insert, std::uint64_t address, int kind) {
  for (int type : {0, 1}) {
    auto reply = request(rsp::breakpoint_request(insert, type, address, kind));
    if (!reply) return reply.error();
    if (*reply == "OK") return true;
    if (!reply->empty() && type == 1)
      return error(fmt::format("cannot {} a breakpoint at {:#x}: the target answered {}",
                               insert ? "set" : "remove", address, *reply));
    // Empty: software breakpoints not supported; try a hardware one.
  }
  return error(fmt::format("the gdb server supports no breakpoints (Z0/Z1) at {:#x}", address));
}

Expected<int> RspClient::insert_breakpoint(std::uint64_t address, int kind, int first_type) {
  std::string refused;
  for (int type : {first_type, 1 - first_type}) {
    auto reply = request(rsp::breakpoint_request(true, type, address, kind));
    if (!reply) return reply.error();
    if (*reply == "OK") return type;
    if (!reply->empty()) refused = *reply;  // E NN: e.g. no hardware comparator left
  }
  return error(refused.empty()
                   ? fmt::format("the gdb server supports no breakpoints (Z0/Z1) at {:#x}", address)
                   : fmt::format("cannot set a breakpoint at {:#x}: the target answered {}",
                                 address, refused));
}

Expected<bool> RspClient::remove_breakpoint(std::uint64_t address, int kind, int type) {
  auto reply = request(rsp::breakpoint_request(false, type, address, kind));
  if (!reply) return reply.error();
  if (*reply != "OK")
    return error(fmt::format("cannot remove the breakpoint at {:#x}: the target answered '{}'",
                             address, rsp::printable(*reply)));
  return true;
}

Expected<rsp::StopReply> RspClient::step_off_and_continue(std::uint64_t address, int kind,
                                                          int type) {
  if (ack_mode_) {
    if (auto r = remove_breakpoint(address, kind, type); !r) return r.error();
    auto stepped = step();
    if (!stepped || stepped->kind != rsp::StopReply::Kind::signal) return stepped;
    if (auto r = insert_breakpoint(address, kind, type); !r) return r.error();
    if (auto r = resume(); !r) return r.error();
    return stepped;
  }
  const std::string step_packet = thread_.empty() ? std::string("s") : "vCont;s:" + thread_;
  std::string batch = rsp::frame(rsp::breakpoint_request(false, type, address, kind));
  batch += rsp::frame(step_packet);
  batch += rsp::frame(rsp::breakpoint_request(true, type, address, kind));
  batch += rsp::frame("c");
  packets_sent_ += 4;
  ++round_trips_;
  if (auto sent = send_raw(batch); !sent) return sent.error();
  auto expect_ok = [&](const char* what) -> Expected<bool> {
    auto reply = receive_packet(timeout_ms_);
    if (!reply) return reply.error();
    if (*reply != "OK")
      return error(fmt::format("{} the breakpoint at {:#x}: the target answered '{}'", what,
                               address, rsp::printable(*reply)));
    return true;
  };
  if (auto r = expect_ok("cannot remove"); !r) return r.error();
  stopped_ = false;
  auto stepped = wait_stop(timeout_ms_);
  if (!stepped) return stepped;
  if (stepped->kind != rsp::StopReply::Kind::signal) return stepped;  // the program ended
  if (auto r = expect_ok("cannot set"); !r) return r.error();
  stopped_ = false;  // the `c` of the batch: the target runs
  return stepped;
}

void RspClient::detach() {
  if (fd_ < 0) return;
  if (auto sent = send_packet("D"); sent) (void)receive_packet(500);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace mpheap::capture
