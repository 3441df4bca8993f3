// lq_listener_state / lq_event (abi.h) -> model. Pure.
#pragma once

#include <cstdint>
#include <span>

#include "model/trace_model.h"
#include "util/result.h"

struct lq_listener_key;
struct lq_listener_state;

namespace listenq {

ListenerStat listener_stat_from(const lq_listener_key &key, const lq_listener_state &st);
// One ringbuf record; wrong size is an error (ABI mismatch).
Result<TraceEvent> decode_event(std::span<const std::uint8_t> bytes);

}  // namespace listenq
