// Reads every listening socket of the caller's netns through iter/tcp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/listener.h"
#include "util/result.h"

namespace listenq {

struct BpfOptions {
	std::string btf_path;  // custom BTF for CO-RE; empty = kernel's own
};

// One pass of the iter/tcp program: the raw record stream (abi.h), as
// captured in tests/fixtures. Filters are applied in the kernel.
Result<std::vector<std::uint8_t>> read_listener_records(const BpfOptions &opts, const ListenerFilter &filter);

// read_listener_records() decoded and sorted.
Result<Snapshot> read_snapshot_iter(const BpfOptions &opts, const ListenerFilter &filter);

}  // namespace listenq
