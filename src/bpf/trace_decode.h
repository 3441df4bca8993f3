// lq_listener_state / lq_event (abi.h) -> model. Pure.
#pragma once

#include <cstdint>
#include <span>

#include "model/trace_model.h"
#include "util/result.h"

struct lq_listener_key;
struct lq_listener_state;

namespace listenq {

// ptr_keys: the key's cookie is a socket pointer (LQ_CFG_PTR_KEYS): kept
// as the opaque ListenerStat::key only, the cookie shown is 0.
// Both histograms filled.
ListenerStat listener_stat_from(const lq_listener_key &key, const lq_listener_state &st, bool ptr_keys = false);
// The same into an existing ListenerStat (no allocation but the
// histograms asked for, and only when not empty; the others are cleared).
// The busy pass reads an idle listener only every few seconds; the
// samples since its last read (tick: the sampler's tick now) saw it empty,
// and are added as such (depth_at_samples: the depth histogram counts
// samples, not enqueues). BPF adds them at its next read.
void add_unread_samples(ListenerStat &s, const lq_listener_state &st, std::uint32_t tick, bool depth_at_samples);
void update_listener_stat(ListenerStat &s, const lq_listener_key &key, const lq_listener_state &st, bool ptr_keys,
			  HistKinds hists);
// One ringbuf record; wrong size is an error (ABI mismatch).
Result<TraceEvent> decode_event(std::span<const std::uint8_t> bytes, bool ptr_keys = false);

}  // namespace listenq
