// libFuzzer target for the heap pipeline's entry point (session::HeapSession) with a target
// description that comes from the input: "<target.json>\0<RAM dump at 0x20000000>". Every
// field of the description (block size 0, offsets past the struct, a word size of 3, ...) and
// every byte of the dump is reachable; the session must give an analysis or one clean error.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "mpheap/report/heap_report.h"
#include "mpheap/report/report_heap.h"
#include "mpheap/session/heap_session.h"

namespace {

bool write_file(const std::string& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nul = in.find('\0');
  if (nul == std::string_view::npos || nul + 1 >= in.size()) return 0;
  // The session reads files, as the CLI gives it: one scratch folder per fuzzing process.
  static const std::string dir = [] {
    std::filesystem::path d = std::filesystem::temp_directory_path() /
                              ("mpheap_session_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  const std::string json = dir + "/target.json", dump = dir + "/ram.bin";
  if (!write_file(json, in.substr(0, nul)) || !write_file(dump, in.substr(nul + 1))) return 0;

  mpheap::session::HeapRequest request;
  request.target.target_json = json;
  request.dumps = {dump + "@0x20000000"};
  auto session = mpheap::session::HeapSession::open(request);
  if (!session) return 0;
  const mpheap::session::DumpFile& file = session->file(0);
  for (std::uint64_t i = 0; i < file.count() && i < 4; ++i) {
    auto s = session->analyze(0, i);
    if (!s) continue;
    const auto& a = **s;
    auto summary = mpheap::report::summarize_snapshot("", a.snapshot, session->target(), a.analysis,
                                                      *a.reader);
    if (summary.objects.size() != a.snapshot.objects.size()) std::abort();
    (void)mpheap::report::snapshot_json(a.snapshot, session->target(), i, &summary);
    (void)mpheap::report::heap_summary(a.snapshot, session->target());
  }
  return 0;
}
