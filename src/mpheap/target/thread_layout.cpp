// The order of mp_state_thread_t's fields by version, and finding mp_state_ctx's start with it.
#include "mpheap/target/thread_layout.h"

#include <fmt/format.h>

namespace mpheap::target {
namespace {

constexpr std::uint64_t kMaxPystack = 1u << 24;

// thread.pystack_start, _end, _cur at `at` (1.10+ with MICROPY_ENABLE_PYSTACK): start <= cur <=
// end, a word-aligned size of at most 16 MiB, followed by gc_lock_depth (a small count).
bool pystack_triple(const io::WordReader& r, std::uint64_t at) {
  const std::uint64_t W = r.word;
  auto start = r.at(at), end = r.at(at + W), cur = r.at(at + 2 * W), lock = r.at(at + 3 * W);
  return start && end && cur && lock && *start != 0 && *start % W == 0 && *end % W == 0 &&
         *start < *end && *end - *start <= kMaxPystack && *cur >= *start && *cur <= *end &&
         *lock < 0x10000;
}

}  // namespace

const ThreadOrderRule* thread_order_for(std::optional<std::pair<int, int>> version) {
  if (!version) return nullptr;
  const ThreadOrderRule* rule = nullptr;
  for (const ThreadOrderRule& r : kThreadOrders)
    if (*version >= r.since) rule = &r;
  return rule;
}

std::optional<ThreadStart> find_thread_start(const io::WordReader& r, std::uint64_t dict_locals_at,
                                             std::optional<std::uint64_t> known_ctx,
                                             std::optional<std::pair<int, int>> version,
                                             std::pair<std::uint64_t, std::uint64_t> stack_tops) {
  const std::uint64_t W = r.word;
  auto plausible_top = [&](std::uint64_t at) {
    auto v = r.at(at);
    return v && *v % W == 0 && *v > stack_tops.first && *v <= stack_tops.second;
  };
  const ThreadOrderRule* rule = thread_order_for(version);
  const ThreadOrderRule& old = kThreadOrders[0];
  const ThreadOrderRule& current = kThreadOrders[1];
  if (rule == nullptr) {
    // No version: 1.9's order when mp_state_ctx starts at dict_locals (the symbol says so, or
    // three words on lies a stack top), else the current one.
    bool dicts_first = known_ctx ? *known_ctx == dict_locals_at
                                 : plausible_top(dict_locals_at + old.stack_top_word * W);
    rule = dicts_first ? &old : &current;
  }
  ThreadStart s;
  if (rule->order == ThreadOrder::dicts_first) {
    s.mp_state_ctx = known_ctx.value_or(dict_locals_at);
    if (s.mp_state_ctx != dict_locals_at) return std::nullopt;
    if (plausible_top(dict_locals_at + rule->stack_top_word * W))
      s.stack_top_offset = rule->stack_top_word * W;
    s.evidence = fmt::format(
        "{}'s mp_state_thread_t: dict_locals, dict_globals, nlr_top, "
        "stack_top from mp_state_ctx",
        rule->versions);
    return s;
  }
  // stack_top first, then up to max_words_before - 1 optional words before dict_locals.
  const bool pystack = dict_locals_at >= 6 * W && pystack_triple(r, dict_locals_at - 4 * W);
  if (known_ctx) {
    if (*known_ctx > dict_locals_at || dict_locals_at - *known_ctx > rule->max_words_before * W)
      return std::nullopt;
    s.mp_state_ctx = *known_ctx;
  } else if (pystack) {
    // stack_top, [stack_limit], pystack_start, _end, _cur, gc_lock_depth, dict_locals.
    const std::uint64_t top = dict_locals_at - 5 * W, limit_before = dict_locals_at - 6 * W;
    s.mp_state_ctx = !plausible_top(top) && plausible_top(limit_before) ? limit_before : top;
  } else {
    // The furthest candidate holding a stack top: the words between (stack_limit, pystack
    // pointers, gc_lock_depth) are sizes, pystack pointers below the stack's top or zero.
    std::optional<std::uint64_t> ctx;
    for (std::uint64_t k = 1; k <= rule->max_words_before && dict_locals_at >= k * W; ++k)
      if (plausible_top(dict_locals_at - k * W)) ctx = dict_locals_at - k * W;
    if (!ctx) return std::nullopt;
    s.mp_state_ctx = *ctx;
  }
  if (pystack && dict_locals_at - s.mp_state_ctx >= 5 * W) {
    s.pystack_offset = dict_locals_at - 4 * W - s.mp_state_ctx;
    if (r.at(s.mp_state_ctx).value_or(0) != 0) s.stack_top_offset = 0;
  } else if (plausible_top(s.mp_state_ctx)) {
    s.stack_top_offset = 0;
  }
  s.evidence = fmt::format(
      "{}'s mp_state_thread_t: stack_top first, dict_locals at +{}{}", rule->versions,
      dict_locals_at - s.mp_state_ctx,
      s.pystack_offset ? fmt::format(", pystack_start/_end/_cur at +{} "
                                     "(0x{:x}..0x{:x}, in use to 0x{:x})",
                                     *s.pystack_offset, r.at(dict_locals_at - 4 * W).value_or(0),
                                     r.at(dict_locals_at - 3 * W).value_or(0),
                                     r.at(dict_locals_at - 2 * W).value_or(0))
                       : std::string());
  return s;
}

}  // namespace mpheap::target
