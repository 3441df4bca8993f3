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
// else, where the kernel has none or refuses it, the kprobe walk of
// /proc/net/tcp{,6} (walk.bpf.c; cookies 0 unless something asked for
// them; not filtered), else iter/task_file (dump_files; then a socket
// comes once per descriptor). The order and names are snapshot_ways()
// (src/plan/facts.cpp).

struct ListenerRecords {
	std::vector<std::uint8_t> bytes;
	std::string source;              // the way's name: "iter/tcp", "kprobe/tcp_seq_show", "iter/task_file"
	std::vector<std::string> notes;  // what was refused, and what that loses
};
Result<ListenerRecords> read_listener_records(const BpfOptions &opts, const ListenerFilter &filter);

// read_listener_records() decoded, one per socket, sorted.
Result<Snapshot> read_snapshot_iter(const BpfOptions &opts, const ListenerFilter &filter);

}  // namespace listenq
