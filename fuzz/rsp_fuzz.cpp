// libFuzzer target for the GDB remote protocol decoding (what a gdb server, or anything that
// answers on its port, sends): the packet decoder fed in pieces, and every reply parser on each
// payload. Any input must give units or clean errors; a framed payload must decode to itself.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mpheap/capture/rsp_packet.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mpheap::capture::rsp;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // Pieces of a length chosen by the first byte: packets split across reads.
  const std::size_t piece = size > 0 ? 1 + data[0] % 64 : 1;
  PacketDecoder decoder;
  for (std::size_t at = 0; at < bytes.size(); at += piece) {
    decoder.feed(bytes.substr(at, piece));
    while (auto unit = decoder.next()) {
      const std::string& p = unit->payload;
      (void)parse_supported(p);
      if (auto stop = parse_stop_reply(p)) {
        for (int r : {7, 13, 16}) (void)stop_register(*stop, r, data[0] & 1);
        (void)stop_thread(*stop);
      }
      (void)auxv_value(p, 9, (data[0] & 2) ? 8 : 4, data[0] & 1);
      (void)error_reply(p);
      (void)decode_hex(p);
      auto m = memory_reply(p, 0x20000000, p.size() / 2);
      if (!m) (void)m.error().message();
      (void)printable(p);
    }
  }
  (void)decode_payload(bytes);
  // Round trip: what frame() writes decodes to the payload.
  PacketDecoder again;
  again.feed(frame(bytes));
  auto unit = again.next();
  if (!unit || unit->kind != Received::Kind::packet || unit->payload != bytes) __builtin_trap();
  return 0;
}
