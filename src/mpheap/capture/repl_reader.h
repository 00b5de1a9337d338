// Snapshots through a board's REPL, with no probe: a small reader program runs on the board and
// streams RAM as checksummed base64 lines; the host checks each line and asks again for the
// ones a lossy link damaged (docs/capture.md, "capture repl"). The reader allocates nothing
// while it reads: a preallocated buffer, machine.mem8, a generator whose state was made when
// it was installed, so the heap it reads is the heap the program left.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/capture/ram_ranges.h"
#include "mpheap/capture/raw_repl.h"
#include "mpheap/io/snapshot_sequence.h"
#include "mpheap/util/error.h"

namespace mpheap::capture {

// Bytes of RAM per line; a line is '=', address (8 hex), two sums (5 and 7 hex), the bytes in
// base64 (640 characters for 480; a short last chunk gives a shorter line), '\n': 662 bytes for
// 480 (1.38 on the wire per byte of RAM).
inline constexpr std::uint64_t kReplChunkBytes = 480;
inline constexpr std::size_t kReplLineChars = 661;  // a whole chunk's line, without the '\n'
// The reader works in the board's small integers: addresses below 2^30.
inline constexpr std::uint64_t kReplAddressLimit = 0x40000000;
// An error (unsupported) when [start, end) reaches past kReplAddressLimit.
Expected<bool> check_reader_range(std::uint64_t start, std::uint64_t end);

// One line of the reader's output for a read of [start, end): its address when the line is a
// whole, undamaged chunk of that read (format, hex, alphabet, padding and both sums checked);
// then its bytes are copied to `out` (which holds end - start bytes). nullopt otherwise.
std::optional<std::uint64_t> decode_chunk_line(std::string_view line, std::uint64_t start,
                                               std::uint64_t end, std::uint8_t* out);
// The same line as the board makes it (tests, the benchmark's simulated board).
std::string encode_chunk_line(std::uint64_t address, std::string_view bytes);

// The label part of the reader's begin line (what follows "=mpheap-begin"): "=TEXT=TEXT", the label
// twice. The label when the part came whole, nullopt when it is absent or damaged.
std::optional<std::string> decode_label_part(std::string_view rest);
std::string encode_label_part(std::string_view label);  // as the board writes it (tests)

// The Python program installed on the board (a generator held by the global `_mpheap`).
std::string_view repl_reader_program();

struct ReplReaderInfo {
  // Addresses of the reader's own heap objects: the `_mpheap` list, the generator, its
  // function, the line buffer.
  std::vector<std::uint64_t> objects;
  std::string platform;    // sys.platform
  std::string machine;     // sys.implementation._machine ("-" before MicroPython 1.12)
  bool collected = false;  // the heap was too full for it: gc.collect() ran first
};

struct ReplRead {
  std::string before_output;     // what `before` code printed
  std::string label;             // the program's label (mpheap_snap), empty otherwise
  std::uint64_t lines = 0;       // chunk lines accepted
  std::uint64_t damaged = 0;     // lines rejected (lost or changed bytes)
  std::uint64_t requests = 0;    // chunks asked for again
  std::uint64_t wire_bytes = 0;  // bytes received for this read
  double ms = 0;
};

// A program run with mpheap_snap defined (--run): what it prints, and each snapshot it asks for.
struct ReplRunEvents {
  std::function<void(std::string_view text)> output;  // whole lines, or what came before a pause
  // The bytes of each range, in the order given.
  std::function<Expected<bool>(const ReplRead& read,
                               const std::vector<std::vector<std::uint8_t>>& parts)>
      snapshot;
};
struct ReplRunEnd {
  std::uint64_t snapshots = 0;
  std::string errors;        // the program's traceback, empty when it ended normally
  bool interrupted = false;  // Ctrl-C stopped it
};

class ReplReader {
 public:
  // Installs the reader (the raw REPL must be entered). Errors: a firmware without
  // machine.mem8, too little memory, an answer that is not the reader's.
  static Expected<ReplReader> install(RawRepl& repl);
  [[nodiscard]] const ReplReaderInfo& info() const { return info_; }
  // Progress of a read: chunks whole so far, of all, and chunks asked for again.
  using Progress =
      std::function<void(std::uint64_t done, std::uint64_t chunks, std::uint64_t requests)>;
  // Reads [start, end) into `out` (resized). `before` is Python run in the same command right
  // before reading (its output is returned): what it shows is the state that is read.
  // `*stop` (Ctrl-C) interrupts the board's reader and gives an error of kind cancelled;
  // `progress` is called about twice a second.
  Expected<ReplRead> read(std::uint64_t start, std::uint64_t end, std::string_view before,
                          std::vector<std::uint8_t>& out, const std::atomic<bool>* stop = nullptr,
                          const Progress& progress = {});
  // The same for several ranges, read in one command (one moment of the board's program): one
  // stream each, in order, into out[k].
  Expected<ReplRead> read(std::span<const RamRange> ranges, std::string_view before,
                          std::vector<std::vector<std::uint8_t>>& out,
                          const std::atomic<bool>* stop = nullptr, const Progress& progress = {});
  // Defines `mpheap_snap(label='')` on the board, which streams the ranges labelled and
  // returns, then runs `program` (Python source) to its end: its output goes to
  // events.output as it comes, each snapshot to events.snapshot. The program must not read
  // stdin while it runs. `*stop` (Ctrl-C) interrupts the program (KeyboardInterrupt); the
  // snapshots taken until then are kept. The function's object joins info().objects.
  Expected<ReplRunEnd> run(std::string_view program, std::span<const RamRange> ranges,
                           const ReplRunEvents& events, const std::atomic<bool>* stop = nullptr,
                           const Progress& progress = {});

 private:
  ReplReader(RawRepl& repl, ReplReaderInfo info) : repl_(&repl), info_(std::move(info)) {}
  static Expected<ReplReader> install_once(RawRepl& repl);
  // Appends the running command's output to `buf` until something comes, `silence_ms` pass (in
  // 250 ms pieces), or `*stop` is newly set (`stopping`: already seen). True once the output's
  // end (\x04) was read.
  Expected<bool> wait_output(std::string& buf, int silence_ms, const std::atomic<bool>* stop,
                             bool stopping);
  RawRepl* repl_;
  ReplReaderInfo info_;
  bool self_test_ = false;
  std::uint64_t streams_ = 0;  // streams the reader has made (its quits carry the number)
};

struct ReplPlan {
  // RAM ranges to read (disjoint); none given: all the RAM the description names, or the chip
  // table's RAM for the board.
  std::vector<RamRange> ram;
  // RAM the firmware's description names (--elf, --map), and which description; without it
  // the chip table's RAM for the board. The range read must lie inside, unless unchecked_ram.
  std::vector<RamRange> known_ram;
  std::string known_from;
  bool unchecked_ram = false;
  std::uint64_t count = 1;        // snapshots to take
  std::uint64_t every_ms = 1000;  // between the starts of two snapshots
  std::string before;             // Python run right before each read, in the same command
  // --run: a program run with mpheap_snap defined (instead of count/every/before), and its
  // name; a last snapshot is taken after it ends.
  std::optional<std::string> program;
  std::string program_name;
};

struct ReplCaptureStats {
  std::uint64_t snapshots = 0, requests = 0, damaged = 0, resent = 0;
  std::uint64_t wire_bytes = 0, ram_bytes = 0;
  double read_ms = 0;
  bool interrupted = false;
  std::string platform, machine;
  std::vector<RamRange> ranges;  // what was read
  std::string rule;              // why that range
  bool collected = false;        // gc.collect() ran before the reader fitted (garbage is gone)
  std::string program_errors;    // --run: the program's traceback
};

// Receives each snapshot (one record per range) and what its read did; an error stops the
// capture.
using ReplSink =
    std::function<Expected<bool>(std::span<const io::SnapshotRecord> parts, const ReplRead& read)>;
// --run: the program's output, as it comes.
using ReplOutput = std::function<void(std::string_view text)>;

// Enters the raw REPL, installs the reader, takes the plan's snapshots (until `*stop`), then
// removes the reader and leaves the board at its friendly REPL.
Expected<ReplCaptureStats> capture_repl(Link& link, const ReplPlan& plan, const ReplSink& sink,
                                        const std::atomic<bool>* stop = nullptr,
                                        const ReplReader::Progress& progress = {},
                                        const ReplOutput& output = {});

}  // namespace mpheap::capture
