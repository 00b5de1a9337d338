// Links to a REPL: serial devices through termios, TCP and unix sockets.
#include "mpheap/capture/link.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "mpheap/util/number.h"

namespace mpheap::capture {
namespace {

using Clock = std::chrono::steady_clock;

Error open_error(std::string_view spec, std::string what, ErrorKind kind = ErrorKind::io) {
  return Error{"--connect", 0, 0, fmt::format("{}: {}", spec, what), kind};
}

// Retries while the peer is not listening yet (QEMU starting up), until the deadline.
template <typename Try>
Expected<int> connect_until(std::string_view spec, int timeout_ms, Try&& attempt) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  int last = 0;
  for (;;) {
    int fd = attempt(last);
    if (fd >= 0) return fd;
    if (last != ECONNREFUSED && last != ENOENT) break;
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return open_error(spec, fmt::format("cannot connect: {}", std::strerror(last)),
                    last == ECONNREFUSED || last == ENOENT ? ErrorKind::not_found : ErrorKind::io);
}

Expected<int> open_tcp(std::string_view spec, std::string_view hostport, int timeout_ms) {
  auto colon = hostport.rfind(':');
  auto port =
      colon == std::string_view::npos ? std::nullopt : parse_uint(hostport.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535)
    return Error{"--connect", 0, 0,
                 fmt::format("expected tcp:HOST:PORT (a TCP port 1..65535), found '{}'", spec),
                 ErrorKind::usage};
  std::string host(colon == 0 ? "localhost" : hostport.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(*port).c_str(), &hints, &found); rc != 0)
    return open_error(spec, fmt::format("cannot resolve '{}': {}", host, ::gai_strerror(rc)),
                      ErrorKind::not_found);
  auto fd = connect_until(spec, timeout_ms, [&](int& err) {
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
      int s = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (s < 0) {
        err = errno;
        continue;
      }
      if (::connect(s, a->ai_addr, a->ai_addrlen) == 0) return s;
      err = errno;
      ::close(s);
    }
    return -1;
  });
  ::freeaddrinfo(found);
  return fd;
}

Expected<int> open_unix(std::string_view spec, std::string_view path, int timeout_ms) {
  sockaddr_un a{};
  if (path.empty() || path.size() >= sizeof a.sun_path)
    return Error{"--connect", 0, 0,
                 fmt::format("expected unix:PATH (at most {} bytes), found '{}'",
                             sizeof a.sun_path - 1, spec),
                 ErrorKind::usage};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.data(), path.size());
  return connect_until(spec, timeout_ms, [&](int& err) {
    int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
      err = errno;
      return -1;
    }
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return s;
    err = errno;
    ::close(s);
    return -1;
  });
}

speed_t baud_constant(std::uint32_t baud) {
  switch (baud) {
    case 9600:
      return B9600;
    case 19200:
      return B19200;
    case 38400:
      return B38400;
    case 57600:
      return B57600;
    case 115200:
      return B115200;
    case 230400:
      return B230400;
    case 460800:
      return B460800;
    case 921600:
      return B921600;
    case 1000000:
      return B1000000;
    case 2000000:
      return B2000000;
    default:
      return B0;
  }
}

Expected<int> open_serial(std::string_view spec, std::uint32_t baud) {
  std::string path(spec);
  if (path.find('/') == std::string::npos) path = "/dev/" + path;
  const speed_t speed = baud_constant(baud);
  if (speed == B0)
    return Error{"--baud", 0, 0,
                 fmt::format("{} is not a standard rate (9600, 19200, 38400, 57600, 115200, "
                             "230400, 460800, 921600, 1000000, 2000000)",
                             baud),
                 ErrorKind::usage};
  int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    std::string hint = err == EACCES   ? " (add yourself to the 'dialout' group)"
                       : err == ENOENT ? " (is the board plugged in? ls /dev/ttyACM* /dev/ttyUSB*)"
                       : err == EBUSY  ? " (another program holds it: mpremote, screen, Thonny?)"
                                       : "";
    return open_error(path, fmt::format("cannot open: {}{}", std::strerror(err), hint),
                      err == ENOENT ? ErrorKind::not_found : ErrorKind::io);
  }
  termios t{};
  if (::tcgetattr(fd, &t) != 0) {
    int err = errno;
    ::close(fd);
    return open_error(path, fmt::format("not a serial device: {}", std::strerror(err)),
                      ErrorKind::bad_input);
  }
  ::cfmakeraw(&t);
  t.c_cflag |= CLOCAL | CREAD;
  t.c_cflag &= ~static_cast<tcflag_t>(CRTSCTS | CSTOPB);
  t.c_cc[VMIN] = 0;
  t.c_cc[VTIME] = 0;
  ::cfsetispeed(&t, speed);
  ::cfsetospeed(&t, speed);
  if (::tcsetattr(fd, TCSANOW, &t) != 0) {
    int err = errno;
    ::close(fd);
    return open_error(path,
                      fmt::format("cannot set {} baud, raw mode: {}", baud, std::strerror(err)));
  }
  return fd;
}

}  // namespace

std::string printable_excerpt(std::string_view bytes, std::size_t limit) {
  std::string out;
  for (char c : bytes) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (u < 0x20 || u >= 0x7f)
      out += fmt::format("\\x{:02x}", u);
    else
      out += c;
  }
  return out;
}

Link::Link(int fd, std::string name)
    : fd_(fd), name_(std::move(name)), debug_(std::getenv("MPHEAP_REPL_DEBUG") != nullptr) {}

Expected<std::unique_ptr<Link>> Link::open(std::string_view spec, std::uint32_t baud,
                                           int connect_timeout_ms) {
  Expected<int> fd = -1;
  if (spec.starts_with("tcp:"))
    fd = open_tcp(spec, spec.substr(4), connect_timeout_ms);
  else if (spec.starts_with("unix:"))
    fd = open_unix(spec, spec.substr(5), connect_timeout_ms);
  else if (spec.empty())
    return Error{"--connect", 0, 0,
                 "expected a serial device (ttyACM0, /dev/ttyUSB0), tcp:HOST:PORT or unix:PATH",
                 ErrorKind::usage};
  else
    fd = open_serial(spec, baud);
  if (!fd) return fd.error();
  return std::unique_ptr<Link>(new Link(*fd, std::string(spec)));
}

Link::~Link() {
  if (fd_ >= 0) ::close(fd_);
}

Error Link::error(std::string what, ErrorKind kind) const {
  return Error{name_, 0, 0, std::move(what), kind};
}

Expected<bool> Link::write(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, 100);
        continue;
      }
      return error(fmt::format("write failed: {} (the board was unplugged or reset?)",
                               std::strerror(errno)));
    }
    if (debug_)
      fmt::print(stderr, "> {}\n",
                 printable_excerpt(bytes.substr(0, static_cast<std::size_t>(n)), 400));
    sent_ += static_cast<std::uint64_t>(n);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

Expected<bool> Link::read_some(std::string& out, int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  int rc = ::poll(&p, 1, timeout_ms);
  if (rc < 0) {
    if (errno == EINTR) return false;
    return error(fmt::format("poll failed: {}", std::strerror(errno)));
  }
  if (rc == 0) return false;
  char buf[16384];
  ssize_t n = ::read(fd_, buf, sizeof buf);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return false;
    return error(
        fmt::format("read failed: {} (the board was unplugged or reset?)", std::strerror(errno)));
  }
  if (n == 0) return error("the link closed (the board was unplugged, or QEMU ended)");
  if (debug_)
    fmt::print(stderr, "< {}\n",
               printable_excerpt(std::string_view(buf, static_cast<std::size_t>(n)), 400));
  received_ += static_cast<std::uint64_t>(n);
  out.append(buf, static_cast<std::size_t>(n));
  return true;
}

void Link::drain(int quiet_ms) {
  std::string scratch;
  for (;;) {
    scratch.clear();
    auto got = read_some(scratch, quiet_ms);
    if (!got || !*got) return;
  }
}

}  // namespace mpheap::capture
