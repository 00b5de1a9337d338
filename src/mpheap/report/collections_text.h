// `mpheap trace --collections`: every collection rendered as the analysis ends it, the text held
// back (in a temporary file past a size) until the summary that precedes it has been printed.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include "mpheap/trace/trace_analysis.h"
#include "mpheap/util/error.h"

namespace mpheap::report {

// A CollectionSink that keeps the rendered text of the collections, not the collections: at most
// `hold_bytes` of it in memory, the rest in an anonymous temporary file, so memory stays the
// same however many collections the log has (all of it in memory if no temporary file can be
// created).
class CollectionsText final : public trace::CollectionSink {
 public:
  explicit CollectionsText(std::size_t top_sites, std::size_t hold_bytes = 1 << 20)
      : top_sites_(top_sites), hold_bytes_(hold_bytes) {}
  CollectionsText(const CollectionsText&) = delete;
  CollectionsText& operator=(const CollectionsText&) = delete;
  ~CollectionsText() override;

  void collection(const trace::Collection& c, const trace::StackTable& stacks) override;

  // Hands the whole text to `write`, in order and in pieces; a temporary file that could not be
  // written or read back is the error.
  Expected<bool> write_to(const std::function<void(std::string_view)>& write);

  // Whether part of the text went to the temporary file (for tests).
  [[nodiscard]] bool spilled() const { return spill_ != nullptr; }

 private:
  void spill();

  std::size_t top_sites_;
  std::size_t hold_bytes_;
  std::string held_;
  std::FILE* spill_ = nullptr;
  bool in_memory_ = false;  // no temporary file could be created: all of it is held
  int spill_errno_ = 0;     // the first failed write to the temporary file
};

}  // namespace mpheap::report
