// The REPL reader: the program installed on the board, its line format, and the host's side of
// the exchange (stream every chunk, then ask again for those that came damaged).
#include "mpheap/capture/repl_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
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
// integer, every buffer preallocated. p is [generator, start, end, line buffer, label, stream
// number]. Each resumption is one stream: '=mpheap-begin' (with the label p[4], when set, as
// '=TEXT=TEXT': two copies; no new names or strings, which a small heap keeps forever as
// interned strings), the lines of [p[1], p[2]), then '?' and
// the answers to requests, each followed by '?': 'rAAAAAAAA' (that chunk again), 'l' (the
// begin line again, for its label) and 'qNNNNNNNN' (quit, when NNNNNNNN is this stream's number
// in hex: a quit sent twice to an earlier stream cannot end a later one), answered by '!'.
// Output goes to sys.stdout.buffer, or the micro:bit's uart where sys has no stdout (MicroPython
// 1.9 for the micro:bit).
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
  p[5]+=1
  w(b'=mpheap-begin')
  n=-1
  a=a0
  r=0
  while 1:
   if n<0:
    x=p[4]
    if x is not None:
     w(o,1)
     w(x)
     w(o,1)
     w(x)
    w(b'\n')
    n=0
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
    v=s2
    j=20
    while j:
     o[j]=H[v&15]
     v>>=4
     j-=1
     if j==13:v=s1
     if j==8:v=a
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
   if k==1 and q[0]==108:
    w(b'=mpheap-begin')
    n=-1
   if k==9 and (q[0]==114 or q[0]==113):
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
    if q[0]==113:
     if v==p[5]:break
    elif v>=a0 and v<e0 and (v-a0)%480==0:a=v
  w(b'!\n')
_mpheap=[None,0,0,None,None,0]
_mpheap[0]=_mpheap_g(_mpheap)
next(_mpheap[0])
print('=mpheap-reader',id(_mpheap),id(_mpheap[0]),id(_mpheap_g),id(_mpheap[3]),__import__('sys').platform,getattr(__import__('sys').implementation,'_machine','-'))
del _mpheap_g
)PY";

// Defines mpheap_snap for a program run with --run: it streams each range of _mpheap[6]
// (start, end, start, end, ...) labelled, then returns; a label is one line (line breaks become
// spaces). The function's id and the ranges are printed back: a copy damaged on the way that
// still compiled would read other memory, so it is defined again.
constexpr std::string_view kSnapFunction = R"PY(def mpheap_snap(label=''):
 if type(label) is not str:label=str(label)
 if len(label)>200:label=label[:200]
 if '\n' in label or '\r' in label:label=label.replace('\n',' ').replace('\r',' ')
 p=_mpheap
 p[4]=label
 R=p[6]
 i=0
 while i<len(R):
  p[1]=R[i]
  p[2]=R[i+1]
  next(p[0])
  i+=2
 p[4]=None
del _mpheap[6:]
_mpheap.append(({}))
print('=mpheap-snap',id(mpheap_snap),_mpheap[6])
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

namespace {

// One stream of the reader as the host sees it: the chunks of [start, end) from its begin line
// to its '!', which came whole, its label, and the requests for what did not come.
class ChunkStream {
 public:
  ChunkStream(const RawRepl& repl, std::uint64_t start, std::uint64_t end,
              std::vector<std::uint8_t>& out, std::uint64_t number, bool labelled, ReplRead& r)
      : repl_(repl),
        start_(start),
        end_(end),
        out_(out),
        number_(number),
        chunks_((end - start + kReplChunkBytes - 1) / kReplChunkBytes),
        missing_(chunks_),
        have_(chunks_, false),
        labelled_(labelled),
        label_missing_(labelled),
        r_(r) {
    out.assign(end - start, 0);
  }

  enum class Seen { begin, chunk, ready, end, other };
  // One line (without its newline). `other`: not the reader's, or damaged.
  Seen take(std::string_view line) {
    if (line.starts_with(kBegin)) {
      const std::string_view rest = line.substr(kBegin.size());
      if (labelled_) {
        if (auto label = decode_label_part(rest)) {
          if (label_missing_) r_.label = std::move(*label);
          label_missing_ = false;
          ++labels_whole_;
        }
      }
      begun_ = true;
      return Seen::begin;
    }
    if (auto a = decode_chunk_line(line, start_, end_, out_.data())) {
      begun_ = true;
      const std::uint64_t i = (*a - start_) / kReplChunkBytes;
      if (i == 0 && skip_first_) {
        skip_first_ = false;
        return Seen::chunk;
      }
      if (!have_[i]) {
        have_[i] = true;
        --missing_;
      }
      ++r_.lines;
      return Seen::chunk;
    }
    if (line == "?") {
      begun_ = true;
      ready_ = true;
      return Seen::ready;
    }
    if (line == "!") {
      done_ = true;
      return Seen::end;
    }
    if (begun_) ++r_.damaged;
    return Seen::other;
  }

  // One request: the label while it did not come whole, then the first missing chunk, then
  // quit. After a silence the request starts with a newline, which ends whatever part of an
  // earlier one arrived.
  Expected<bool> ask(Link& link, bool after_silence) {
    ready_ = false;
    const char* lead = after_silence ? "\n" : "";
    if (bad_request_) {  // the self-test: a request that is not one
      bad_request_ = false;
      return link.write("rzz\n");
    }
    if (label_missing_) {
      if (++label_asks_ > kMaxAsks)
        return error(
            fmt::format("the snapshot's label never arrived intact after {} requests", kMaxAsks),
            ErrorKind::io);
      ++r_.requests;
      return link.write(fmt::format("{}l\n", lead));
    }
    if (missing_ == 0) {
      if (++quits_ > kMaxAsks)
        return error("mpheap's reader does not end (no '!' after 'q')", ErrorKind::timeout);
      return link.write(fmt::format("{}q{:08x}\n", lead, number_));
    }
    while (have_[cursor_]) ++cursor_;
    const std::uint64_t address = start_ + cursor_ * kReplChunkBytes;
    if (address == asked_) {
      if (++asks_ > kMaxAsks)
        return error(fmt::format("the chunk at 0x{:x} never arrived intact after {} requests "
                                 "({} of {} chunks read); the link loses too much: try a lower "
                                 "--baud or a shorter cable",
                                 address, kMaxAsks, chunks_ - missing_, chunks_),
                     ErrorKind::io);
    } else {
      asked_ = address;
      asks_ = 1;
    }
    ++r_.requests;
    return link.write(fmt::format("{}r{:08x}\n", lead, address));
  }
  // True when `line` can only be this stream's first: its begin line, or one of its chunks.
  [[nodiscard]] bool opens(std::string_view line) const {
    return line.starts_with(kBegin) ||
           decode_chunk_line(line, start_, end_, out_.data()).has_value();
  }
  // The self-test takes every path: chunk 0 asked for again, after a request that is not one.
  void self_test() { skip_first_ = bad_request_ = true; }

  [[nodiscard]] bool begun() const { return begun_; }
  [[nodiscard]] bool ready() const { return ready_; }
  [[nodiscard]] bool done() const { return done_; }
  [[nodiscard]] bool complete() const { return missing_ == 0 && !label_missing_; }
  [[nodiscard]] bool quit_sent() const { return quits_ > 0; }
  [[nodiscard]] int labels_whole() const { return labels_whole_; }
  [[nodiscard]] bool asked() const { return r_.requests > 0 || quits_ > 0; }
  [[nodiscard]] std::uint64_t chunks() const { return chunks_; }
  [[nodiscard]] std::uint64_t whole() const { return chunks_ - missing_; }
  [[nodiscard]] Error error(std::string what, ErrorKind kind) const {
    return reader_error(repl_, std::move(what), kind);
  }

 private:
  static constexpr std::string_view kBegin = "=mpheap-begin";
  const RawRepl& repl_;
  std::uint64_t start_, end_;
  std::vector<std::uint8_t>& out_;
  std::uint64_t number_;
  std::uint64_t chunks_, missing_, cursor_ = 0;
  std::vector<bool> have_;
  bool labelled_, label_missing_;
  int labels_whole_ = 0;
  ReplRead& r_;
  bool begun_ = false, ready_ = false, done_ = false;
  bool skip_first_ = false, bad_request_ = false;
  std::uint64_t asked_ = ~std::uint64_t{0};
  int asks_ = 0, quits_ = 0, label_asks_ = 0;
};

}  // namespace

std::optional<std::string> decode_label_part(std::string_view rest) {
  // "=TEXT=TEXT": a lost or changed byte makes the two copies differ.
  if (rest.empty() || rest[0] != '=' || rest.size() % 2 != 0) return std::nullopt;
  const std::string_view both = rest.substr(1);
  const std::size_t half = both.size() / 2;
  if (both[half] != '=' || both.substr(0, half) != both.substr(half + 1)) return std::nullopt;
  return std::string(both.substr(0, half));
}

std::string encode_label_part(std::string_view label) {
  return fmt::format("={}={}", label, label);
}

Expected<bool> ReplReader::wait_output(std::string& buf, int silence_ms,
                                       const std::atomic<bool>* stop, bool stopping) {
  const std::size_t size_before = buf.size();
  for (int waited = 0; waited < silence_ms; waited += 250) {
    auto got = repl_->read_output(buf, 250);
    if (!got || *got || buf.size() != size_before) return got;
    if (stop != nullptr && stop->load() && !stopping) break;
  }
  return false;
}

Expected<ReplRead> ReplReader::read(std::uint64_t start, std::uint64_t end, std::string_view before,
                                    std::vector<std::uint8_t>& out, const std::atomic<bool>* stop,
                                    const Progress& progress) {
  const RamRange range{start, end};
  std::vector<std::vector<std::uint8_t>> parts;
  auto r = read(std::span<const RamRange>(&range, 1), before, parts, stop, progress);
  if (r) out = std::move(parts.front());
  return r;
}

Expected<ReplRead> ReplReader::read(std::span<const RamRange> ranges, std::string_view before,
                                    std::vector<std::vector<std::uint8_t>>& out,
                                    const std::atomic<bool>* stop, const Progress& progress) {
  if (ranges.empty()) return reader_error(*repl_, "no range to read", ErrorKind::usage);
  for (const RamRange& g : ranges) {
    if (g.end <= g.start)
      return reader_error(*repl_, fmt::format("empty range 0x{:x}..0x{:x}", g.start, g.end),
                          ErrorKind::usage);
    if (auto fits = check_reader_range(g.start, g.end); !fits) return fits.error();
  }
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  Link& link = repl_->link();
  const std::uint64_t rx0 = link.bytes_received();
  ReplRead r;
  // The self-test also takes the label's paths: a label set, and asked for once more. The label
  // is a name the firmware has (a new string would stay in the heap, interned).
  const bool labelled = self_test_;
  // One stream per range, in one command: the ranges are read at one moment of the program.
  out.assign(ranges.size(), {});
  std::vector<std::unique_ptr<ChunkStream>> streams;
  std::string code = fmt::format("{}\n{}", before, labelled ? "_mpheap[4]='machine'\n" : "");
  std::uint64_t chunks = 0;
  for (std::size_t k = 0; k < ranges.size(); ++k) {
    streams.push_back(std::make_unique<ChunkStream>(*repl_, ranges[k].start, ranges[k].end, out[k],
                                                    streams_ + 1 + k, labelled, r));
    chunks += streams.back()->chunks();
    code += fmt::format("_mpheap[1]={};_mpheap[2]={};next(_mpheap[0])\n", ranges[k].start,
                        ranges[k].end);
  }
  if (labelled) code += "_mpheap[4]=None\n";
  if (self_test_) streams.front()->self_test();
  if (auto s = repl_->start(code); !s) return s.error();

  std::size_t cur = 0;  // the stream under way
  auto whole = [&] {
    std::uint64_t n = 0;
    for (const auto& st : streams) n += st->whole();
    return n;
  };
  std::string buf;
  bool ended = false;
  bool label_asked = false;
  auto last_progress = Clock::now();
  // Ctrl-C: the reader is asked to quit, which it sees once its stream is out, and which
  // works where the firmware cannot interrupt running code (QEMU's port reads its UART only
  // when asked); where it can, the \x03 before it interrupts the reader at once.
  bool quitting = false;
  auto quit_deadline = Clock::now();
  auto quit = [&] { return fmt::format("\nq{:08x}\n", streams_ + 1 + cur); };
  while (!ended) {
    if (stop != nullptr && stop->load() && !quitting) {
      quitting = true;
      quit_deadline = Clock::now() + std::chrono::seconds(30);
      if (auto w = link.write("\x03" + quit()); !w) return w.error();
    }
    if (quitting && Clock::now() > quit_deadline) break;
    if (progress && Clock::now() - last_progress > std::chrono::milliseconds(500)) {
      last_progress = Clock::now();
      progress(whole(), chunks, r.requests);
    }
    ChunkStream* stream = streams[cur].get();
    const std::size_t size_before = buf.size();
    // Silences: before the reader starts (the `before` code may run a while), during the stream,
    // after a request. Waits are cut in 250 ms pieces so that `*stop` is seen.
    const int silence_ms = !streams.front()->begun() ? 10000 : stream->asked() ? 2000 : 5000;
    auto got = wait_output(buf, silence_ms, stop, quitting);
    if (!got) return got.error();
    ended = *got;
    const bool silent = !ended && buf.size() == size_before;
    std::size_t pos = 0;
    for (std::size_t nl; (nl = buf.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      std::string_view line(buf.data() + pos, nl - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      // The next range's stream starts once this one ended ('!', or that line was lost after
      // its quit was sent).
      if (cur + 1 < streams.size() && streams[cur]->complete() && streams[cur]->quit_sent() &&
          streams[cur + 1]->opens(line)) {
        ++cur;
        streams[cur]->take(line);
        continue;
      }
      const bool begun = streams.front()->begun();
      if (streams[cur]->take(line) == ChunkStream::Seen::other && !begun)
        r.before_output.append(line).append("\n");
      if (streams[cur]->done() && cur + 1 < streams.size()) ++cur;
    }
    buf.erase(0, pos);
    stream = streams[cur].get();
    if (ended) continue;
    if (quitting) {
      if (silent) {
        if (auto w = link.write(quit()); !w) return w.error();
      }
      continue;
    }
    if (stream->done()) {
      if (silent) break;  // the end marker was lost: finish() finds the raw REPL again
      continue;
    }
    if (stream->ready() || silent) {
      // The self-test asks for the label once more even when it came whole.
      if (labelled && !label_asked && stream->ready() && stream->complete()) {
        label_asked = true;
        if (auto w = link.write("l\n"); !w) return w.error();
        continue;
      }
      auto w = stream->ask(link, silent);
      if (!w) return w.error();
    }
  }
  for (const auto& st : streams)
    if (st->begun()) ++streams_;
  if (quitting) {
    if (ended) (void)repl_->finish(2000);
    return reader_error(*repl_, "interrupted", ErrorKind::cancelled);
  }
  const bool complete =
      std::all_of(streams.begin(), streams.end(), [](const auto& st) { return st->complete(); });
  // A lost '!' does no harm: the reader only ends when asked to, after every chunk came.
  auto errors = ended ? repl_->finish(5000)
                      : Expected<std::string>(reader_error(*repl_, "no end of the reader's output",
                                                           ErrorKind::timeout));
  if (!errors) {
    if (!complete) return errors.error();
    // The end marker was lost after a complete read: get the raw REPL back.
    if (auto again = repl_->recover(); !again) return again.error();
  } else if (!errors->empty()) {
    return reader_error(*repl_,
                        fmt::format("mpheap's reader stopped: {}", printable_excerpt(*errors, 400)),
                        ErrorKind::bad_input);
  }
  if (!complete)
    return reader_error(
        *repl_, fmt::format("mpheap's reader ended early: {} of {} chunks read", whole(), chunks),
        ErrorKind::io);
  if (labelled && (r.label != "machine" || streams.front()->labels_whole() < 2))
    return reader_error(*repl_,
                        fmt::format("the self-test's label came back as '{}' ({} times whole)",
                                    r.label, streams.front()->labels_whole()),
                        ErrorKind::io);
  // Requests sent twice (after a silence) may have reached the raw REPL after the reader
  // ended: Ctrl-C clears its line.
  if (auto w = link.write("\x03"); !w) return w.error();
  r.wire_bytes = link.bytes_received() - rx0;
  r.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return r;
}

Expected<ReplRunEnd> ReplReader::run(std::string_view program, std::span<const RamRange> ranges,
                                     const ReplRunEvents& events, const std::atomic<bool>* stop,
                                     const Progress& progress) {
  if (ranges.empty()) return reader_error(*repl_, "no range to read", ErrorKind::usage);
  std::string bounds;
  for (const RamRange& g : ranges) {
    if (g.end <= g.start)
      return reader_error(*repl_, fmt::format("empty range 0x{:x}..0x{:x}", g.start, g.end),
                          ErrorKind::usage);
    if (auto fits = check_reader_range(g.start, g.end); !fits) return fits.error();
    bounds += fmt::format("{},{},", g.start, g.end);
  }
  // The tuple as the board prints it back.
  std::string echo = "(";
  for (std::size_t k = 0; k < ranges.size(); ++k)
    echo += fmt::format("{}{}, {}", k == 0 ? "" : ", ", ranges[k].start, ranges[k].end);
  echo += ")";
  Expected<RawRepl::Result> defined = RawRepl::Result{};
  std::optional<std::uint64_t> id;
  for (int attempt = 0; attempt < 3 && !id; ++attempt) {
    defined = repl_->exec(fmt::format(kSnapFunction, bounds), 10000);
    if (!defined) return defined.error();
    auto at = defined->output.find("=mpheap-snap ");
    if (at == std::string::npos || !defined->errors.empty()) continue;
    std::string_view rest = std::string_view(defined->output).substr(at + 13);
    rest = rest.substr(0, rest.find_first_of("\r\n"));
    const auto space = rest.find(' ');
    if (space != std::string_view::npos && rest.substr(space + 1) == echo)
      id = parse_uint(rest.substr(0, space));
  }
  if (!id)
    return reader_error(*repl_,
                        fmt::format("mpheap_snap could not be defined on the board: '{}'",
                                    printable_excerpt(defined->errors + defined->output, 400)),
                        ErrorKind::bad_input);
  info_.objects.push_back(*id);

  using Clock = std::chrono::steady_clock;
  Link& link = repl_->link();
  if (auto s = repl_->start(program); !s) return s.error();
  // The snapshot under way, from its first line to its last range's last chunk: one stream per
  // range, in order.
  struct Active {
    ReplRead r;
    std::vector<std::vector<std::uint8_t>> bytes;
    std::vector<std::unique_ptr<ChunkStream>> streams;
    std::size_t cur = 0;
    Clock::time_point t0;
    [[nodiscard]] ChunkStream& stream() const { return *streams[cur]; }
    [[nodiscard]] std::uint64_t whole() const {
      std::uint64_t n = 0;
      for (const auto& st : streams) n += st->whole();
      return n;
    }
    [[nodiscard]] std::uint64_t chunks() const {
      std::uint64_t n = 0;
      for (const auto& st : streams) n += st->chunks();
      return n;
    }
    // The last stream has every chunk and its quit went out.
    [[nodiscard]] bool finished() const {
      return cur + 1 == streams.size() && stream().complete() && stream().quit_sent();
    }
  };
  std::unique_ptr<Active> active;
  auto begin_snapshot = [&] {
    active = std::make_unique<Active>();
    active->bytes.resize(ranges.size());
    for (std::size_t k = 0; k < ranges.size(); ++k)
      active->streams.push_back(std::make_unique<ChunkStream>(*repl_, ranges[k].start,
                                                              ranges[k].end, active->bytes[k],
                                                              streams_ + 1 + k, true, active->r));
    active->t0 = Clock::now();
  };
  // After a snapshot: its quit was sent; '!' (or the program's next output) says it arrived.
  std::optional<std::uint64_t> closing;
  int closing_quits = 0;
  ReplRunEnd result;
  std::string buf;
  bool ended = false, interrupting = false;
  auto deadline = Clock::now();
  auto last_progress = Clock::now(), last_interrupt = Clock::now();
  auto emit_output = [&](std::string_view text) {
    if (events.output && !text.empty()) events.output(text);
  };
  // Every chunk and the label are here once the last quit is sent: the snapshot is whole,
  // whatever became of its '!'.
  auto keep_snapshot = [&]() -> Expected<bool> {
    streams_ += active->streams.size();
    active->r.ms = std::chrono::duration<double, std::milli>(Clock::now() - active->t0).count();
    if (!active->stream().done()) {
      closing = streams_;
      closing_quits = 1;
    }
    auto kept = events.snapshot(active->r, active->bytes);
    active.reset();
    if (!kept) return kept.error();
    ++result.snapshots;
    return true;
  };
  // Where a line is tried as the first of a snapshot.
  std::vector<std::uint8_t> scratch(ranges.front().end - ranges.front().start);
  while (!ended) {
    if (stop != nullptr && stop->load() && !interrupting) {
      interrupting = true;
      deadline = Clock::now() + std::chrono::seconds(15);
      last_interrupt = Clock::now();
      // The program gets a KeyboardInterrupt; a reader that cannot be interrupted is asked to
      // quit (the program then sees the next Ctrl-C).
      std::string keys = "\x03";
      if (active) keys += fmt::format("\nq{:08x}\n", streams_ + 1 + active->cur);
      if (auto w = link.write(keys); !w) return w.error();
    }
    if (interrupting) {
      if (Clock::now() > deadline)
        return reader_error(*repl_,
                            "the program on the board did not stop after Ctrl-C (15 s); reset "
                            "the board",
                            ErrorKind::cancelled);
      if (Clock::now() - last_interrupt > std::chrono::seconds(2)) {
        last_interrupt = Clock::now();
        if (auto w = link.write("\x03"); !w) return w.error();
      }
    }
    if (active && progress && Clock::now() - last_progress > std::chrono::milliseconds(500)) {
      last_progress = Clock::now();
      progress(active->whole(), active->chunks(), active->r.requests);
    }
    const std::size_t size_before = buf.size();
    // The program may be silent for as long as it likes; a snapshot under way may not.
    const int silence_ms = active ? (active->stream().asked() ? 2000 : 5000) : 2000;
    auto got = wait_output(buf, silence_ms, stop, interrupting);
    if (!got) return got.error();
    ended = *got;
    const bool silent = !ended && buf.size() == size_before;
    std::size_t pos = 0;
    for (std::size_t nl; (nl = buf.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      std::string_view bare(buf.data() + pos, nl - pos);
      if (!bare.empty() && bare.back() == '\r') bare.remove_suffix(1);
      if (!active) {
        if (closing && bare == "!") {
          closing.reset();
          continue;
        }
        if (!bare.starts_with("=mpheap-begin") &&
            !decode_chunk_line(bare, ranges.front().start, ranges.front().end, scratch.data())) {
          closing.reset();  // the program runs again: the last snapshot's reader has ended
          emit_output(std::string_view(buf.data() + pos, nl + 1 - pos));
          continue;
        }
        begin_snapshot();
        closing.reset();
      }
      // The next range's stream starts once this one ended ('!', or that line was lost after
      // its quit was sent).
      if (active->cur + 1 < active->streams.size() && active->stream().complete() &&
          active->stream().quit_sent() && active->streams[active->cur + 1]->opens(bare))
        ++active->cur;
      active->stream().take(bare);
      active->r.wire_bytes += nl + 1 - pos;
      if (active->stream().done()) {
        if (!active->stream().complete())  // never: quits are sent when all is here
          return reader_error(*repl_,
                              fmt::format("mpheap's reader ended early: {} of {} chunks read",
                                          active->whole(), active->chunks()),
                              ErrorKind::io);
        if (active->cur + 1 < active->streams.size()) {
          ++active->cur;
        } else if (auto kept = keep_snapshot(); !kept) {
          return kept.error();
        }
      }
    }
    buf.erase(0, pos);
    if (!active && !buf.empty() && buf.front() != '=' && (silent || ended)) {
      emit_output(buf);  // a line still being written (a prompt, print(..., end=''))
      buf.clear();
    }
    if (ended) break;
    if (active) {
      if (active->finished()) {
        if (auto kept = keep_snapshot(); !kept) return kept.error();
        continue;
      }
      ChunkStream& stream = active->stream();
      // The next range's stream comes; a silence means the quit was lost (ask sends it again).
      if (stream.complete() && stream.quit_sent() && !silent) continue;
      if (!interrupting && (stream.ready() || silent)) {
        auto w = stream.ask(link, silent);
        if (!w) return w.error();
      }
    } else if (closing && silent && !interrupting) {
      // The quit or its '!' was lost; quits are numbered, so one that arrives twice (or is read
      // by the program) ends nothing else. After 8 the program is taken to be quiet.
      if (++closing_quits > kMaxAsks) {
        closing.reset();
      } else if (auto w = link.write(fmt::format("\nq{:08x}\n", *closing)); !w) {
        return w.error();
      }
    }
  }
  if (active)
    return reader_error(*repl_,
                        fmt::format("the program ended during a snapshot ({} of {} chunks read)",
                                    active->whole(), active->chunks()),
                        ErrorKind::io);
  auto errors = repl_->finish(5000);
  if (!errors) return errors.error();
  result.errors = std::move(*errors);
  result.interrupted = interrupting;
  // Quits sent twice may wait at the raw REPL's line: Ctrl-C clears it.
  if (auto w = link.write("\x03"); !w) return w.error();
  return result;
}

Expected<ReplCaptureStats> capture_repl(Link& link, const ReplPlan& plan, const ReplSink& sink,
                                        const std::atomic<bool>* stop,
                                        const ReplReader::Progress& progress,
                                        const ReplOutput& output) {
  using Clock = std::chrono::steady_clock;
  RawRepl repl(link);
  if (auto entered = repl.enter(); !entered) return entered.error();
  ReplCaptureStats stats;
  // What to read: checked against the RAM the description names, else the chip table's row
  // for the board.
  auto choose = [&](const std::string& machine, const std::string& platform) {
    std::vector<RamRange> known = plan.known_ram;
    std::string why = plan.known_from;
    if (known.empty()) {
      if (const ChipRam* chip = chip_for(machine, platform)) {
        known.push_back(chip->ram);
        why = fmt::format("mpheap's chip table ({})", chip->chip);
      } else {
        why = fmt::format("the board ('{}', sys.platform '{}') is not in mpheap's chip table",
                          machine, platform);
      }
    }
    return choose_ram(plan.ram, known, {}, why, plan.unchecked_ram);
  };
  // The board's name first, so that a range it cannot read is refused before anything is
  // installed (on a small heap every install leaves interned names behind). An answer lost on
  // the way leaves the check to after the install.
  auto named = repl.exec(
      "import sys\nprint('=mpheap-board',sys.platform,getattr(sys.implementation,'_machine','-'))"
      "\n",
      5000);
  if (!named) return named.error();
  if (auto at = named->output.find("=mpheap-board "); at != std::string::npos) {
    std::string_view rest = std::string_view(named->output).substr(at + 14);
    rest = rest.substr(0, rest.find_first_of("\r\n"));
    const auto space = rest.find(' ');
    if (space != std::string_view::npos) {
      auto early = choose(std::string(rest.substr(space + 1)), std::string(rest.substr(0, space)));
      if (!early) {
        repl.leave();
        return early.error();
      }
    }
  }
  auto reader = ReplReader::install(repl);
  if (!reader) return reader.error();
  stats.platform = reader->info().platform;
  stats.machine = reader->info().machine;
  stats.collected = reader->info().collected;
  auto choice = choose(stats.machine, stats.platform);
  Expected<bool> outcome = true;
  std::vector<RamRange> ranges;
  if (!choice) {
    outcome = choice.error();
  } else {
    ranges = choice->ranges;
    stats.ranges = ranges;
    stats.rule = choice->rule;
    for (const RamRange& g : ranges)
      if (outcome) outcome = check_reader_range(g.start, g.end);
    // The reader's own objects are in the heap: ranges without them hold no heap.
    for (std::uint64_t o : reader->info().objects) {
      const bool held = std::any_of(ranges.begin(), ranges.end(),
                                    [&](const RamRange& g) { return o >= g.start && o < g.end; });
      if (outcome && !held)
        outcome = reader_error(
            repl,
            fmt::format("the ranges read do not hold the board's heap (its objects are at "
                        "{:#x}); {}",
                        o, heap_outside_hint(chip_for(stats.machine, stats.platform), o)),
            ErrorKind::bad_input);
    }
  }
  const auto t0 = Clock::now();
  std::vector<std::vector<std::uint8_t>> parts;
  auto keep = [&](std::uint64_t index, Clock::time_point at,
                  std::chrono::system_clock::time_point wall, std::string trigger,
                  std::string label, const std::vector<std::vector<std::uint8_t>>& data,
                  const ReplRead& read) {
    std::vector<io::SnapshotRecord> records(ranges.size());
    for (std::size_t k = 0; k < ranges.size(); ++k) {
      io::SnapshotHeader& h = records[k].header;
      h.index = index;
      h.time_ms = std::chrono::duration<double, std::milli>(at - t0).count();
      h.unix_ms = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count());
      h.start = ranges[k].start;
      h.end = ranges[k].end;
      h.trigger = trigger;
      h.label = label;
      h.reader_objects = reader->info().objects;
      h.part = static_cast<std::uint32_t>(k);
      h.parts = static_cast<std::uint32_t>(ranges.size());
      records[k].bytes =
          std::string_view(reinterpret_cast<const char*>(data[k].data()), data[k].size());
      stats.ram_bytes += data[k].size();
    }
    stats.requests += read.requests;
    stats.damaged += read.damaged;
    stats.wire_bytes += read.wire_bytes;
    stats.read_ms += read.ms;
    auto kept = sink(records, read);
    if (kept) ++stats.snapshots;
    return kept;
  };
  std::uint64_t first_final = 0;  // --run: the index of the snapshot after the program
  if (outcome && plan.program) {
    ReplRunEvents events;
    events.output = output;
    events.snapshot = [&](const ReplRead& read,
                          const std::vector<std::vector<std::uint8_t>>& data) {
      // The time is the stream's start, when the program called mpheap_snap.
      const auto ago = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double, std::milli>(read.ms));
      return keep(stats.snapshots, Clock::now() - ago,
                  std::chrono::time_point_cast<std::chrono::system_clock::duration>(
                      std::chrono::system_clock::now() - ago),
                  "repl:run", read.label, data, read);
    };
    auto ran = reader->run(*plan.program, ranges, events, stop, progress);
    if (!ran) {
      outcome = ran.error();
    } else {
      stats.interrupted = ran->interrupted;
      stats.program_errors = ran->errors;
      first_final = stats.snapshots;
    }
  }
  if (outcome && plan.program && !stats.interrupted) {
    // The heap the program left (after its error, when it raised one).
    std::string label = fmt::format("after {}", plan.program_name);
    if (!stats.program_errors.empty()) {
      std::string_view e = stats.program_errors;
      while (!e.empty() && (e.back() == '\n' || e.back() == '\r')) e.remove_suffix(1);
      auto nl = e.find_last_of('\n');
      label += fmt::format(" ({})", e.substr(nl == std::string_view::npos ? 0 : nl + 1));
    }
    const auto at = Clock::now();
    const auto wall = std::chrono::system_clock::now();
    auto read = reader->read(ranges, "", parts, stop, progress);
    if (!read && read.error().kind == ErrorKind::cancelled) {
      stats.interrupted = true;
      (void)repl.recover();
    } else if (!read) {
      outcome = read.error();
    } else {
      outcome = keep(first_final, at, wall, "repl:end", std::move(label), parts, *read);
    }
  }
  for (std::uint64_t i = 0; outcome && !plan.program && i < plan.count; ++i) {
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
    auto read = reader->read(ranges, plan.before, parts, stop, progress);
    if (!read && read.error().kind == ErrorKind::cancelled) {
      stats.interrupted = true;  // the snapshot under way is dropped; those before are kept
      (void)repl.recover();
      break;
    }
    if (!read) {
      outcome = read.error();
      break;
    }
    outcome =
        keep(i, at, wall, plan.count > 1 ? fmt::format("repl:every:{}ms", plan.every_ms) : "repl",
             "", parts, *read);
  }
  // Leave the board as found: the reader's objects become garbage, the friendly REPL is back.
  // After a failure the reader may still wait for requests: Ctrl-C stops it first.
  if (!outcome) (void)repl.recover();
  auto removed = repl.exec(plan.program ? "del _mpheap,mpheap_snap\n" : "del _mpheap\n", 5000);
  if (outcome && !removed) outcome = removed.error();
  repl.leave();
  stats.resent = repl.stats().resent;
  if (!outcome) return outcome.error();
  return stats;
}

}  // namespace mpheap::capture
