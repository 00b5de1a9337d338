// The order of mp_state_thread_t's fields by version, and finding mp_state_ctx's start with it.
#include "mpheap/target/thread_layout.h"

#include <fmt/format.h>

namespace mpheap::target {

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
  if (known_ctx) {
    if (*known_ctx > dict_locals_at || dict_locals_at - *known_ctx > rule->max_words_before * W)
      return std::nullopt;
    s.mp_state_ctx = *known_ctx;
  } else {
    // The furthest candidate holding a stack top: the words between (stack_limit, pystack
    // pointers, gc_lock_depth) are sizes, pystack pointers below the stack's top or zero.
    std::optional<std::uint64_t> ctx;
    for (std::uint64_t k = 1; k <= rule->max_words_before && dict_locals_at >= k * W; ++k)
      if (plausible_top(dict_locals_at - k * W)) ctx = dict_locals_at - k * W;
    if (!ctx) return std::nullopt;
    s.mp_state_ctx = *ctx;
  }
  if (plausible_top(s.mp_state_ctx)) s.stack_top_offset = 0;
  s.evidence = fmt::format("{}'s mp_state_thread_t: stack_top first, dict_locals at +{}",
                           rule->versions, dict_locals_at - s.mp_state_ctx);
  return s;
}

}  // namespace mpheap::target
