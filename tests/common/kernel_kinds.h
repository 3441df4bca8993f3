// What this kernel loads, found by the tests themselves: not listenq's
// `probe` (a test whose expectation came from the product would only be as
// right as the product). Each program of tests/common/bpf/kinds.bpf.c is
// loaded alone, and attached where the kind needs an attach to be usable
// (an iterator is also read once). The programs call the helpers listenq's
// programs of the same kind call, on the same pointers.
#pragma once

#include <map>
#include <string>

namespace listenq::testing {

struct KindResult {
	bool ok = false;
	std::string why;  // the failing step and errno text, when !ok
};

// Keys: "iter/tcp" (marked and keyed by cookie, as listenq's sampler),
// "iter/tcp dump" (fields only, as listenq's snapshot), "iter/bpf_sk_storage_map", "iter/task_file" (helpers on
// socket->sk, as listenq's sample_files), "iter/task_file raw" (socket->sk
// only read, as sample_files_raw), "kprobe walk" (kprobe/tcp4_seq_show,
// attached), "kprobe", "kretprobe", "fentry", "fexit", "tp_btf", "raw_tp",
// "tracepoint", "raw_tp test run for_each" (run by BPF_PROG_TEST_RUN,
// bpf_for_each_map_elem over a hash map: listenq's sample_busy), and the
// maps "ringbuf", "sk_storage".
// Probed once per process; LISTENQ_BTF, where set, is the CO-RE BTF.
const std::map<std::string, KindResult> &kernel_kinds();

// kernel_kinds().at(kind).ok
bool kernel_loads(const std::string &kind);

// The source `listenq snapshot` must read on this kernel, from the kinds
// above: "iter/tcp" where its dump loads, else "kprobe/tcp_seq_show" (the kernel's
// walk of /proc/net/tcp), else "inet_diag".
std::string expected_snapshot_source();

// One line per kind, for a test's log.
std::string kernel_kinds_text();

}  // namespace listenq::testing
