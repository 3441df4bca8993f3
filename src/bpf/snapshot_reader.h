// Reads every listening socket of the caller's netns through iter/tcp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/listener.h"
#include "plan/plan.h"
#include "util/result.h"

namespace listenq {

struct BpfOptions {
	std::string btf_path;         // custom BTF for CO-RE; empty = kernel's own
	std::vector<Refusal> refuse;  // LISTENQ_REFUSE: treated as refused by the kernel
};

// The raw record stream (abi.h) of one pass, as captured in
// tests/fixtures, and which program made it: iter/tcp (dump_listeners),
// else, where the kernel refuses that, iter/task_file (dump_files; then a
// socket comes once per descriptor). Filters are applied in the kernel.
struct ListenerRecords {
	std::vector<std::uint8_t> bytes;
	std::string source;              // "iter/tcp" or "iter/task_file"
	std::vector<std::string> notes;  // what was refused, and what that loses
};
Result<ListenerRecords> read_listener_records(const BpfOptions &opts, const ListenerFilter &filter);

// read_listener_records() decoded, one per socket, sorted.
Result<Snapshot> read_snapshot_iter(const BpfOptions &opts, const ListenerFilter &filter);

}  // namespace listenq
