// The REPL reader: the program installed on the board, its line format, and the host's side of
// the exchange (stream every chunk, then ask again for those that came damaged).
#include "mpheap/capture/repl_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <thread>

#include "mpheap/capture/ram_ranges.h"
#include "mpheap/util/number.h"

namespace mpheap::capture {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::size_t kDataAt = 21;  // '=' + 8 + 5 + 7 hex digits
constexpr int kMaxAsks = 8;          // requests for one chunk before giving up

// The reader. A generator, so that its frame is allocated once, when it is installed, and
// resuming it allocates nothing; every loop is a while (no range objects), every value a small
// integer, every buffer preallocated. Streams [p[1], p[2]) as lines, then answers requests
// 'rAAAAAAAA\n' (that chunk again) until 'q\n'. Output goes to sys.stdout.buffer, or the
// micro:bit's uart where sys has no stdout (MicroPython 1.9 for the micro:bit).
constexpr std::string_view kProgram = R"PY(def _mpheap_g(p):
 import sys
 try:
  w=sys.stdout.buffer.write
  ri=sys.stdin.buffer.readinto
  av=None
 except AttributeError:
  import microbit
  u=microbit.uart
  w=u.write
  ri=u.readinto
  av=u.any
 import machine
 m=machine.mem8
 o=bytearray(662)
 o[0]=61
 o[661]=10
 q=bytearray(12)
 c=bytearray(1)
 T=b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
 H=b'0123456789abcdef'
 p[3]=o
 while 1:
  yield
  a0=p[1]
  e0=p[2]
  w(b'=mpheap-begin\n')
  a=a0
  r=0
  while 1:
   if a>=a0 and a<e0:
    n=e0-a
    if n>480:n=480
    s1=0
    s2=0
    j=21
    i=0
    while i<n:
     x=m[a+i]
     s1+=x
     s2+=s1
     y=0
     z=0
     if i+1<n:
      y=m[a+i+1]
      s1+=y
      s2+=s1
      if i+2<n:
       z=m[a+i+2]
       s1+=z
       s2+=s1
     v=x<<16|y<<8|z
     o[j]=T[v>>18]
     o[j+1]=T[v>>12&63]
     o[j+2]=T[v>>6&63]
     o[j+3]=T[v&63]
     j+=4
     i+=3
    o[j]=10
    L=j+1
    v=a
    j=8
    while j:
     o[j]=H[v&15]
     v>>=4
     j-=1
    v=s1
    j=13
    while j>8:
     o[j]=H[v&15]
     v>>=4
     j-=1
    v=s2
    j=20
    while j>13:
     o[j]=H[v&15]
     v>>=4
     j-=1
    w(o,L)
    if r==0:
     a+=480
     if a<e0:continue
   w(b'?\n')
   r=1
   a=-1
   k=0
   while 1:
    if av:
     while not av():pass
    ri(c)
    x=c[0]
    if x==10:
     if k:break
    elif x!=13:
     if k<12:q[k]=x
     k+=1
   if k==1 and q[0]==113:break
   if k==9 and q[0]==114:
    v=0
    j=1
    while j<9:
     x=q[j]
     if 48<=x<=57:x-=48
     elif 97<=x<=102:x-=87
     else:
      v=-1
      break
     if v>0x3ffffff:
      v=-1
      break
     v=v<<4|x
     j+=1
    if v>=a0 and v<e0 and (v-a0)%480==0:a=v
  w(b'!\n')
_mpheap=[None,0,0,None]
_mpheap[0]=_mpheap_g(_mpheap)
next(_mpheap[0])
print('=mpheap-reader',id(_mpheap),id(_mpheap[0]),id(_mpheap_g),id(_mpheap[3]),__import__('sys').platform,getattr(__import__('sys').implementation,'_machine','-'))
del _mpheap_g
)PY";

std::optional<std::uint64_t> hex_field(std::string_view s) {
  std::uint64_t v = 0;
  for (char c : s) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<std::uint64_t>(d);
  }
  return v;
}

constexpr std::array<std::int8_t, 256> kDecode = [] {
  std::array<std::int8_t, 256> t{};
  t.fill(-1);
  for (std::size_t i = 0; i < kAlphabet.size(); ++i)
    t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}();

Error reader_error(const RawRepl& repl, std::string what, ErrorKind kind) {
  return Error{repl.name(), 0, 0, std::move(what), kind};
}

}  // namespace

std::string_view repl_reader_program() {
  return kProgram;
}

Expected<bool> check_reader_range(std::uint64_t start, std::uint64_t end) {
  if (end <= kReplAddressLimit) return true;
  return Error{"--ram", 0, 0,
               fmt::format("{:#x}:{:#x} reaches past {:#x}: the REPL reader works with the "
                           "board's small integers (addresses below 2^30)",
                           start, end, kReplAddressLimit),
               ErrorKind::unsupported};
}

std::optional<std::uint64_t> decode_chunk_line(std::string_view line, std::uint64_t start,
                                               std::uint64_t end, std::uint8_t* out) {
  if (line.size() < kDataAt + 4 || line.size() > kReplLineChars || line[0] != '=')
    return std::nullopt;
  auto address = hex_field(line.substr(1, 8));
  auto sum1 = hex_field(line.substr(9, 5));
  auto sum2 = hex_field(line.substr(14, 7));
  if (!address || !sum1 || !sum2) return std::nullopt;
  if (*address < start || *address >= end || (*address - start) % kReplChunkBytes != 0)
    return std::nullopt;
  const std::uint64_t n = std::min(kReplChunkBytes, end - *address);
  const std::size_t chars = static_cast<std::size_t>((n + 2) / 3 * 4);
  if (line.size() != kDataAt + chars) return std::nullopt;  // bytes lost or added
  std::array<std::uint8_t, kReplChunkBytes + 2> bytes{};
  std::size_t got = 0;
  for (std::size_t k = kDataAt; k < kDataAt + chars; k += 4) {
    std::uint32_t v = 0;
    for (std::size_t d = 0; d < 4; ++d) {
      const std::int8_t six = kDecode[static_cast<unsigned char>(line[k + d])];
      if (six < 0) return std::nullopt;
      v = v << 6 | static_cast<std::uint32_t>(six);
    }
    bytes[got++] = static_cast<std::uint8_t>(v >> 16);
    bytes[got++] = static_cast<std::uint8_t>(v >> 8);
    bytes[got++] = static_cast<std::uint8_t>(v);
  }
  for (std::size_t k = n; k < got; ++k)  // the board pads with zero bytes
    if (bytes[k] != 0) return std::nullopt;
  std::uint64_t s1 = 0, s2 = 0;
  for (std::size_t k = 0; k < n; ++k) {
    s1 += bytes[k];
    s2 += s1;
  }
  if (s1 != *sum1 || s2 != *sum2) return std::nullopt;
  std::copy_n(bytes.begin(), n, out + (*address - start));
  return address;
}

std::string encode_chunk_line(std::uint64_t address, std::string_view bytes) {
  std::uint64_t s1 = 0, s2 = 0;
  for (char c : bytes) {
    s1 += static_cast<unsigned char>(c);
    s2 += s1;
  }
  std::string line =
      fmt::format("={:08x}{:05x}{:07x}", address & 0xffffffff, s1 & 0xfffff, s2 & 0xfffffff);
  for (std::size_t k = 0; k < bytes.size(); k += 3) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k])) << 16;
    if (k + 1 < bytes.size())
      v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k + 1])) << 8;
    if (k + 2 < bytes.size()) v |= static_cast<unsigned char>(bytes[k + 2]);
    for (int shift : {18, 12, 6, 0}) line += kAlphabet[(v >> shift) & 63];
  }
  line += '\n';
  return line;
}

Expected<ReplReader> ReplReader::install(RawRepl& repl) {
  // A copy of the program damaged on the way may compile and fail only in a path a read takes
  // later (a lost letter turns a keyword into a name): each install is tried on a read of its
  // own buffer that takes every path (a whole and a short chunk, a bad and a good request, quit).
  std::string last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto reader = install_once(repl);
    if (!reader && (reader.error().kind == ErrorKind::unsupported ||
                    reader.error().kind == ErrorKind::io || attempt == 2))
      return reader.error();  // believed: no mem8, no memory, a link that is gone
    if (!reader) {
      last = reader.error().what;  // an answer damaged on the way: install again
      continue;
    }
    std::vector<std::uint8_t> scratch;
    const std::uint64_t at = reader->info_.objects[3];
    reader->self_test_ = true;
    auto tried = reader->read(at, at + kReplChunkBytes + 1, "", scratch);
    reader->self_test_ = false;
    if (tried) return reader;
    last = tried.error().what;
  }
  return reader_error(repl,
                      fmt::format("mpheap's reader did not work after 3 installs (the link damages "
                                  "what is sent to the board?): {}",
                                  last),
                      ErrorKind::io);
}

Expected<ReplReader> ReplReader::install_once(RawRepl& repl) {
  auto r = repl.exec(kProgram, 30000);
  if (!r) return r.error();
  // A copy damaged on the way can still compile and then fail (a name with a changed letter):
  // an error is believed when it comes twice.
  for (int attempt = 0;
       attempt < 3 && !r->errors.empty() && r->errors.find("MemoryError") == std::string::npos;
       ++attempt) {
    auto again = repl.exec(kProgram, 30000);
    if (!again) return again.error();
    const bool same = again->errors == r->errors;
    r = std::move(again);
    if (same) break;
  }
  bool collected = false;
  if (r->errors.find("MemoryError") != std::string::npos) {
    // A small, fragmented heap (MicroPython 1.9 on a micro:bit has 10 KiB): a collection
    // first, then once more. The garbage the program left is gone from the snapshot, and the
    // capture says so.
    auto gc = repl.exec("_mpheap=None\n_mpheap_g=None\nimport gc\ngc.collect()\n", 10000);
    if (!gc) return gc.error();
    r = repl.exec(kProgram, 30000);
    if (!r) return r.error();
    collected = true;
  }
  const std::string& e = r->errors;
  if (!e.empty()) {
    std::string why = printable_excerpt(e, 400);
    if (e.find("mem8") != std::string::npos || e.find("machine") != std::string::npos)
      return reader_error(repl,
                          fmt::format("this firmware has no machine.mem8, which mpheap's reader "
                                      "needs to read RAM without allocating; it said: {}",
                                      why),
                          ErrorKind::unsupported);
    if (e.find("MemoryError") != std::string::npos)
      return reader_error(repl,
                          fmt::format("the board has too little free heap for mpheap's reader "
                                      "(about 3 KiB, 662 bytes of it in one piece), even after a "
                                      "collection; free some, or reset it first; it said: {}",
                                      why),
                          ErrorKind::unsupported);
    return reader_error(repl, fmt::format("the board could not run mpheap's reader: {}", why),
                        ErrorKind::bad_input);
  }
  ReplReaderInfo info;
  info.collected = collected;
  auto at = r->output.find("=mpheap-reader ");
  if (at == std::string::npos)
    return reader_error(repl,
                        fmt::format("mpheap's reader did not answer as expected; the board "
                                    "printed: '{}'",
                                    printable_excerpt(r->output)),
                        ErrorKind::bad_input);
  std::string_view rest = std::string_view(r->output).substr(at + 15);
  rest = rest.substr(0, rest.find_first_of("\r\n"));
  for (int k = 0; k < 4; ++k) {
    auto space = rest.find(' ');
    auto id = parse_uint(rest.substr(0, space));
    if (!id || space == std::string_view::npos)
      return reader_error(
          repl,
          fmt::format("mpheap's reader gave a damaged answer: '{}'", printable_excerpt(r->output)),
          ErrorKind::bad_input);
    info.objects.push_back(*id);
    rest.remove_prefix(space + 1);
  }
  auto space = rest.find(' ');
  info.platform = std::string(rest.substr(0, space));
  if (space != std::string_view::npos) info.machine = std::string(rest.substr(space + 1));
  return ReplReader(repl, std::move(info));
}

Expected<ReplRead> ReplReader::read(std::uint64_t start, std::uint64_t end, std::string_view before,
                                    std::vector<std::uint8_t>& out, const std::atomic<bool>* stop,
                                    const Progress& progress) {
  if (end <= start)
    return reader_error(*repl_, fmt::format("empty range 0x{:x}..0x{:x}", start, end),
                        ErrorKind::usage);
  if (auto fits = check_reader_range(start, end); !fits) return fits.error();
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  Link& link = repl_->link();
  const std::uint64_t rx0 = link.bytes_received();
  out.assign(end - start, 0);
  const std::uint64_t chunks = (end - start + kReplChunkBytes - 1) / kReplChunkBytes;
  std::vector<bool> have(chunks, false);
  std::uint64_t missing = chunks, cursor = 0;
  ReplRead r;

  std::string code =
      fmt::format("{}\n_mpheap[1]={};_mpheap[2]={};next(_mpheap[0])\n", before, start, end);
  if (auto s = repl_->start(code); !s) return s.error();

  std::string buf;
  bool begun = false, done = false, ended = false;
  // Self-test: chunk 0 is asked for again, after a request that is not one.
  bool skip_first = self_test_, bad_request = self_test_;
  std::uint64_t asked = ~std::uint64_t{0};
  int asks = 0, quits = 0;
  // One request: the first missing chunk, or quit when none is missing. After a silence the
  // request starts with a newline, which ends whatever part of an earlier one arrived.
  auto ask = [&](bool after_silence) -> Expected<bool> {
    const char* lead = after_silence ? "\n" : "";
    if (missing == 0) {
      if (++quits > kMaxAsks)
        return reader_error(*repl_, "mpheap's reader does not end (no '!' after 'q')",
                            ErrorKind::timeout);
      return link.write(fmt::format("{}q\n", lead));
    }
    while (have[cursor]) ++cursor;
    const std::uint64_t address = start + cursor * kReplChunkBytes;
    if (address == asked) {
      if (++asks > kMaxAsks)
        return reader_error(*repl_,
                            fmt::format("the chunk at 0x{:x} never arrived intact after {} "
                                        "requests ({} of {} chunks read); the link loses too "
                                        "much: try a lower --baud or a shorter cable",
                                        address, kMaxAsks, chunks - missing, chunks),
                            ErrorKind::io);
    } else {
      asked = address;
      asks = 1;
    }
    ++r.requests;
    return link.write(fmt::format("{}r{:08x}\n", lead, address));
  };

  auto last_progress = Clock::now();
  // Ctrl-C: the reader is asked to quit ('q'), which it sees once its stream is out, and which
  // works where the firmware cannot interrupt running code (QEMU's port reads its UART only
  // when asked); where it can, the \x03 before it interrupts the reader at once.
  bool quitting = false;
  auto quit_deadline = Clock::now();
  while (!ended) {
    if (stop != nullptr && stop->load() && !quitting) {
      quitting = true;
      quit_deadline = Clock::now() + std::chrono::seconds(30);
      if (auto w = link.write("\x03\nq\n"); !w) return w.error();
    }
    if (quitting && Clock::now() > quit_deadline) break;
    if (progress && Clock::now() - last_progress > std::chrono::milliseconds(500)) {
      last_progress = Clock::now();
      progress(chunks - missing, chunks, r.requests);
    }
    const std::size_t size_before = buf.size();
    // Silences: before the reader starts (the `before` code may run a while), during the stream,
    // after a request. Waits are cut in 250 ms pieces so that `*stop` is seen.
    const int silence_ms = !begun ? 10000 : (r.requests > 0 || quits > 0) ? 2000 : 5000;
    bool got_any = false;
    Expected<bool> got = false;
    for (int waited = 0; waited < silence_ms && !got_any; waited += 250) {
      got = repl_->read_output(buf, 250);
      if (!got) return got.error();
      got_any = *got || buf.size() != size_before;
      if (stop != nullptr && stop->load() && !quitting) break;
    }
    ended = *got;
    const bool silent = !ended && buf.size() == size_before;
    bool ready = false;
    std::size_t pos = 0;
    for (std::size_t nl; (nl = buf.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      std::string_view line(buf.data() + pos, nl - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line == "=mpheap-begin") {
        begun = true;
      } else if (auto a = decode_chunk_line(line, start, end, out.data())) {
        begun = true;
        const std::uint64_t i = (*a - start) / kReplChunkBytes;
        if (i == 0 && skip_first) {
          skip_first = false;
          continue;
        }
        if (!have[i]) {
          have[i] = true;
          --missing;
        }
        ++r.lines;
      } else if (!begun) {
        r.before_output.append(line).append("\n");
      } else if (line == "?") {
        ready = true;
      } else if (line == "!") {
        done = true;
      } else {
        ++r.damaged;
      }
    }
    buf.erase(0, pos);
    if (ended) continue;
    if (quitting) {
      if (silent) {
        if (auto w = link.write("\nq\n"); !w) return w.error();
      }
      continue;
    }
    if (done) {
      if (silent) break;  // the end marker was lost: finish() finds the raw REPL again
      continue;
    }
    if (ready && bad_request) {
      bad_request = false;
      if (auto w = link.write("rzz\n"); !w) return w.error();
      continue;  // its '?' asks for the next request
    }
    if (ready || silent) {
      auto w = ask(silent);
      if (!w) return w.error();
    }
  }
  if (quitting) {
    if (ended) (void)repl_->finish(2000);
    return reader_error(*repl_, "interrupted", ErrorKind::cancelled);
  }
  // A lost '!' does no harm: the reader only ends when asked to, after every chunk came.
  auto errors = ended ? repl_->finish(5000)
                      : Expected<std::string>(reader_error(*repl_, "no end of the reader's output",
                                                           ErrorKind::timeout));
  if (!errors) {
    if (missing != 0) return errors.error();
    // The end marker was lost after a complete read: get the raw REPL back.
    if (auto again = repl_->recover(); !again) return again.error();
  } else if (!errors->empty()) {
    return reader_error(*repl_,
                        fmt::format("mpheap's reader stopped: {}", printable_excerpt(*errors, 400)),
                        ErrorKind::bad_input);
  }
  if (missing != 0)
    return reader_error(
        *repl_,
        fmt::format("mpheap's reader ended early: {} of {} chunks read", chunks - missing, chunks),
        ErrorKind::io);
  // Requests sent twice (after a silence) may have reached the raw REPL after the reader
  // ended: Ctrl-C clears its line.
  if (auto w = link.write("\x03"); !w) return w.error();
  r.wire_bytes = link.bytes_received() - rx0;
  r.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return r;
}

Expected<ReplCaptureStats> capture_repl(Link& link, const ReplPlan& plan, const ReplSink& sink,
                                        const std::atomic<bool>* stop,
                                        const ReplReader::Progress& progress) {
  using Clock = std::chrono::steady_clock;
  RawRepl repl(link);
  if (auto entered = repl.enter(); !entered) return entered.error();
  auto reader = ReplReader::install(repl);
  if (!reader) return reader.error();
  ReplCaptureStats stats;
  stats.platform = reader->info().platform;
  stats.machine = reader->info().machine;
  stats.collected = reader->info().collected;
  // What to read: checked against the RAM the description names, else the chip table's.
  std::vector<RamRange> known = plan.known_ram;
  std::string why = plan.known_from;
  if (known.empty()) {
    if (const ChipRam* chip = chip_for(stats.machine, stats.platform)) {
      known.push_back(chip->ram);
      why = fmt::format("mpheap's chip table ({})", chip->chip);
    } else {
      why = fmt::format("the board ('{}', sys.platform '{}') is not in mpheap's chip table",
                        stats.machine, stats.platform);
    }
  }
  std::optional<RamRange> asked;
  if (plan.end > plan.start) asked = RamRange{plan.start, plan.end};
  auto choice = choose_ram(asked, known, why, plan.unchecked_ram);
  Expected<bool> outcome = true;
  RamRange range{};
  if (!choice) {
    outcome = choice.error();
  } else {
    range = choice->range;
    stats.range = range;
    stats.rule = choice->rule;
    outcome = check_reader_range(range.start, range.end);
    // The reader's own objects are in the heap: a range without them holds no heap.
    for (std::uint64_t o : reader->info().objects)
      if (outcome && (o < range.start || o >= range.end))
        outcome = reader_error(repl,
                               fmt::format("{:#x}:{:#x} does not hold the board's heap (its "
                                           "objects are at {:#x}); read the RAM around it",
                                           range.start, range.end, o),
                               ErrorKind::bad_input);
  }
  const auto t0 = Clock::now();
  std::vector<std::uint8_t> bytes;
  for (std::uint64_t i = 0; outcome && i < plan.count; ++i) {
    if (i > 0) {
      // Wait for the next start, looking at `stop` every 50 ms.
      const auto next = t0 + std::chrono::milliseconds(plan.every_ms * i);
      while (Clock::now() < next && (stop == nullptr || !stop->load()))
        std::this_thread::sleep_for(
            std::min<Clock::duration>(next - Clock::now(), std::chrono::milliseconds(50)));
    }
    if (stop != nullptr && stop->load()) {
      stats.interrupted = true;
      break;
    }
    const auto at = Clock::now();
    const auto wall = std::chrono::system_clock::now();
    auto read = reader->read(range.start, range.end, plan.before, bytes, stop, progress);
    if (!read && read.error().kind == ErrorKind::cancelled) {
      stats.interrupted = true;  // the snapshot under way is dropped; those before are kept
      (void)repl.recover();
      break;
    }
    if (!read) {
      outcome = read.error();
      break;
    }
    io::SnapshotHeader h;
    h.index = i;
    h.time_ms = std::chrono::duration<double, std::milli>(at - t0).count();
    h.unix_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count());
    h.start = range.start;
    h.end = range.end;
    h.trigger = plan.count > 1 ? fmt::format("repl:every:{}ms", plan.every_ms) : "repl";
    h.reader_objects = reader->info().objects;
    stats.requests += read->requests;
    stats.damaged += read->damaged;
    stats.wire_bytes += read->wire_bytes;
    stats.ram_bytes += bytes.size();
    stats.read_ms += read->ms;
    auto kept =
        sink(h, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), *read);
    if (!kept) {
      outcome = kept.error();
      break;
    }
    ++stats.snapshots;
  }
  // Leave the board as found: the reader's objects become garbage, the friendly REPL is back.
  // After a failure the reader may still wait for requests: Ctrl-C stops it first.
  if (!outcome) (void)repl.recover();
  auto removed = repl.exec("del _mpheap\n", 5000);
  if (outcome && !removed) outcome = removed.error();
  repl.leave();
  stats.resent = repl.stats().resent;
  if (!outcome) return outcome.error();
  return stats;
}

}  // namespace mpheap::capture
