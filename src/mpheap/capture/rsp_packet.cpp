// GDB remote protocol framing and reply decoding.
#include "mpheap/capture/rsp_packet.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace mpheap::capture::rsp {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::uint64_t> parse_hex_number(std::string_view s) {
  if (s.empty() || s.size() > 16) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    int d = hex_value(c);
    if (d < 0) return std::nullopt;
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  return v;
}

}  // namespace

std::string printable(std::string_view bytes, std::size_t max) {
  std::string out;
  for (char c : bytes.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f)
      out += c;
    else
      out += fmt::format("\\x{:02x}", u);
  }
  if (bytes.size() > max) out += "...";
  return out;
}

namespace {
std::string shown(std::string_view payload) {
  return printable(payload, 40);
}
}  // namespace

std::uint8_t checksum(std::string_view escaped) {
  unsigned sum = 0;
  for (char c : escaped) sum += static_cast<unsigned char>(c);
  return static_cast<std::uint8_t>(sum & 0xff);
}

std::string frame(std::string_view payload) {
  std::string escaped;
  escaped.reserve(payload.size() + 8);
  for (char c : payload) {
    if (c == '#' || c == '$' || c == '}' || c == '*') {
      escaped += '}';
      escaped += static_cast<char>(c ^ 0x20);
    } else {
      escaped += c;
    }
  }
  return fmt::format("${}#{:02x}", escaped, checksum(escaped));
}

std::optional<std::string> decode_payload(std::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    char c = escaped[i];
    if (c == '}') {
      if (i + 1 >= escaped.size()) return std::nullopt;
      out += static_cast<char>(escaped[++i] ^ 0x20);
    } else if (c == '*') {
      // Run-length encoding: the previous character repeated (n - 29) more times; n is a
      // printable character other than '#' and '$'.
      if (out.empty() || i + 1 >= escaped.size()) return std::nullopt;
      int n = static_cast<unsigned char>(escaped[++i]) - 29;
      if (n < 3 || n > 97) return std::nullopt;
      out.append(static_cast<std::size_t>(n), out.back());
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<Received> PacketDecoder::next() {
  while (pos_ < buffer_.size()) {
    char c = buffer_[pos_];
    if (c == '+' || c == '-') {
      ++pos_;
      return Received{c == '+' ? Received::Kind::ack : Received::Kind::nack, {}};
    }
    if (c != '$' && c != '%') {
      ++pos_;  // noise between packets
      continue;
    }
    std::size_t hash = buffer_.find('#', pos_ + 1);
    if (hash == std::string::npos) {
      if (buffer_.size() - pos_ > kMaxPacket) {
        // Never terminated: drop it and resynchronise on the next '$'.
        ++pos_;
        return Received{Received::Kind::bad_packet,
                        fmt::format("a packet of more than {} bytes without '#'", kMaxPacket)};
      }
      break;
    }
    if (hash + 2 >= buffer_.size()) break;  // the checksum has not arrived yet
    std::string_view body(buffer_.data() + pos_ + 1, hash - pos_ - 1);
    int hi = hex_value(buffer_[hash + 1]), lo = hex_value(buffer_[hash + 2]);
    Received r;
    r.kind = c == '$' ? Received::Kind::packet : Received::Kind::notification;
    if (hi < 0 || lo < 0 || static_cast<std::uint8_t>(hi * 16 + lo) != checksum(body)) {
      r.kind = Received::Kind::bad_packet;
      r.payload = fmt::format("checksum mismatch: '{}' is not {:02x}",
                              std::string_view(buffer_.data() + hash + 1, 2), checksum(body));
    } else if (auto decoded = decode_payload(body)) {
      r.payload = std::move(*decoded);
    } else {
      r.kind = Received::Kind::bad_packet;
      r.payload = fmt::format("bad escape or run length in '{}'", shown(body));
    }
    pos_ = hash + 3;
    return r;
  }
  // Compact what has been consumed.
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  return std::nullopt;
}

std::optional<std::string> error_reply(std::string_view payload) {
  if (payload.size() == 3 && payload[0] == 'E' && hex_value(payload[1]) >= 0 &&
      hex_value(payload[2]) >= 0)
    return std::string(payload);
  if (payload.starts_with("E.")) return std::string(payload);
  return std::nullopt;
}

std::optional<std::vector<std::uint8_t>> decode_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return out;
}

std::string encode_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto u = static_cast<unsigned char>(c);
    out += kDigits[u >> 4];
    out += kDigits[u & 15];
  }
  return out;
}

Expected<std::vector<std::uint8_t>> memory_reply(std::string_view payload, std::uint64_t address,
                                                 std::uint64_t length) {
  const std::string where = fmt::format("memory at {:#x}..{:#x}", address, address + length);
  if (auto e = error_reply(payload))
    return Error{where, 0, 0, fmt::format("not readable: the target answered {}", *e)};
  auto bytes = decode_hex(payload);
  if (!bytes)
    return Error{where, 0, 0,
                 fmt::format("expected {} hex digits, found '{}'", 2 * length, shown(payload))};
  if (bytes->size() != length)
    return Error{where, 0, 0,
                 fmt::format("expected {} bytes, the target sent {}{}", length, bytes->size(),
                             bytes->empty() ? " (the range is not readable)" : "")};
  return std::move(*bytes);
}

Features parse_supported(std::string_view payload) {
  Features f;
  while (!payload.empty()) {
    auto semi = payload.find(';');
    std::string_view item = payload.substr(0, semi);
    payload = semi == std::string_view::npos ? std::string_view() : payload.substr(semi + 1);
    if (item.starts_with("PacketSize=")) {
      if (auto v = parse_hex_number(item.substr(11)); v && *v >= 64 && *v <= (1U << 24))
        f.packet_size = static_cast<std::size_t>(*v);
    } else if (item == "QStartNoAckMode+") {
      f.no_ack_mode = true;
    } else if (item == "swbreak+") {
      f.swbreak = true;
    } else if (item == "hwbreak+") {
      f.hwbreak = true;
    }
  }
  return f;
}

std::uint64_t memory_chunk(std::size_t packet_size) {
  // Two hex digits per byte; keep a little room for stubs that count the framing.
  std::uint64_t chunk = packet_size > 32 ? (packet_size - 16) / 2 : 8;
  return std::max<std::uint64_t>(chunk, 8);
}

std::optional<StopReply> parse_stop_reply(std::string_view payload) {
  if (payload.empty()) return std::nullopt;
  StopReply r;
  char k = payload[0];
  if (k == 'O' && payload.size() > 1) {
    auto text = decode_hex(payload.substr(1));
    if (!text) return std::nullopt;
    r.kind = StopReply::Kind::output;
    r.text.assign(text->begin(), text->end());
    return r;
  }
  if (k != 'S' && k != 'T' && k != 'W' && k != 'X') return std::nullopt;
  if (payload.size() < 3) return std::nullopt;
  int hi = hex_value(payload[1]), lo = hex_value(payload[2]);
  if (hi < 0 || lo < 0) return std::nullopt;
  r.code = static_cast<std::uint8_t>(hi * 16 + lo);
  r.kind = k == 'W'   ? StopReply::Kind::exited
           : k == 'X' ? StopReply::Kind::killed
                      : StopReply::Kind::signal;
  if (k == 'T') r.text = std::string(payload.substr(3));
  return r;
}

std::optional<std::string> stop_thread(const StopReply& stop) {
  std::string_view pairs = stop.text;
  while (!pairs.empty()) {
    auto semi = pairs.find(';');
    std::string_view item = pairs.substr(0, semi);
    if (item.starts_with("thread:") && item.size() > 7) return std::string(item.substr(7));
    if (semi == std::string_view::npos) break;
    pairs.remove_prefix(semi + 1);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> stop_register(const StopReply& stop, int number, bool little_endian) {
  std::string_view pairs = stop.text;
  while (!pairs.empty()) {
    auto semi = pairs.find(';');
    std::string_view item = pairs.substr(0, semi);
    auto colon = item.find(':');
    if (colon != std::string_view::npos && colon > 0 && colon <= 2) {
      unsigned n = 0;
      bool hex = true;
      for (char c : item.substr(0, colon)) {
        const int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                      : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                                                                  : -1;
        if (d < 0) hex = false;
        n = n * 16 + static_cast<unsigned>(d < 0 ? 0 : d);
      }
      if (hex && static_cast<int>(n) == number) {
        auto bytes = decode_hex(item.substr(colon + 1));
        if (!bytes || bytes->empty() || bytes->size() > 8) return std::nullopt;
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < bytes->size(); ++i) {
          const std::size_t k = little_endian ? bytes->size() - 1 - i : i;
          v = (v << 8) | (*bytes)[k];
        }
        return v;
      }
    }
    if (semi == std::string_view::npos) break;
    pairs.remove_prefix(semi + 1);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> auxv_value(std::string_view auxv, std::uint64_t type,
                                        std::uint32_t word_size, bool little_endian) {
  if (word_size != 4 && word_size != 8) return std::nullopt;
  auto word = [&](std::size_t off) {
    std::uint64_t v = 0;
    for (std::uint32_t i = 0; i < word_size; ++i) {
      const std::uint32_t k = little_endian ? word_size - 1 - i : i;
      v = (v << 8) | static_cast<unsigned char>(auxv[off + k]);
    }
    return v;
  };
  for (std::size_t at = 0; at + 2 * word_size <= auxv.size(); at += 2 * word_size) {
    const std::uint64_t t = word(at);
    if (t == type) return word(at + word_size);
    if (t == 0) break;
  }
  return std::nullopt;
}

std::string read_memory_request(std::uint64_t address, std::uint64_t length) {
  return fmt::format("m{:x},{:x}", address, length);
}

std::string breakpoint_request(bool insert, int type, std::uint64_t address, int kind) {
  return fmt::format("{}{},{:x},{}", insert ? 'Z' : 'z', type, address, kind);
}

}  // namespace mpheap::capture::rsp
