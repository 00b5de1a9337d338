// The --collections text, spilled to a temporary file so it costs no memory per collection.
#include "mpheap/report/collections_text.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "mpheap/report/trace_report.h"

namespace mpheap::report {

CollectionsText::~CollectionsText() {
  if (spill_ != nullptr) std::fclose(spill_);
}

void CollectionsText::collection(const trace::Collection& c, const trace::StackTable& stacks) {
  held_ += collection_text(c, stacks, top_sites_);
  if (held_.size() >= hold_bytes_) spill();
}

void CollectionsText::spill() {
  if (in_memory_ || spill_errno_ != 0) return;
  if (spill_ == nullptr) {
    spill_ = std::tmpfile();
    if (spill_ == nullptr) {
      in_memory_ = true;  // no temporary directory: correct output still, at a memory cost
      return;
    }
  }
  if (std::fwrite(held_.data(), 1, held_.size(), spill_) != held_.size()) {
    spill_errno_ = errno != 0 ? errno : EIO;  // reported by write_to
    return;
  }
  held_.clear();
}

Expected<bool> CollectionsText::write_to(const std::function<void(std::string_view)>& write) {
  auto failed = [](int e) {
    return error_of(
        ErrorKind::io, "--collections",
        fmt::format("the temporary file holding the collections: {}", std::strerror(e)));
  };
  if (spill_errno_ != 0) return failed(spill_errno_);
  if (spill_ != nullptr) {
    if (std::fflush(spill_) != 0 || std::fseek(spill_, 0, SEEK_SET) != 0)
      return failed(errno != 0 ? errno : EIO);
    std::string piece(std::size_t{64} << 10, '\0');
    while (std::size_t n = std::fread(piece.data(), 1, piece.size(), spill_))
      write(std::string_view(piece.data(), n));
    if (std::ferror(spill_) != 0) return failed(errno != 0 ? errno : EIO);
  }
  write(held_);
  return true;
}

}  // namespace mpheap::report
