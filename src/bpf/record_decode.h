// Decoding of records written by the BPF programs (include/listenq/abi.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "model/listener.h"
#include "util/result.h"

struct lq_listener_rec;

namespace listenq {

Listener listener_from_record(const lq_listener_rec &rec);
// The iter/tcp stream is a packed array of lq_listener_rec; a length that is
// not a multiple of the record size is an error (truncated or ABI mismatch).
Result<std::vector<Listener>> decode_listener_records(std::span<const std::uint8_t> bytes);

}  // namespace listenq
