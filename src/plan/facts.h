// The one table of what listenq measures and with which BPF programs
// (bpf/trace.bpf.c). `listenq probe` prints the plan made from it, and the
// tracer carries out that same plan (plan.h). Kernel facts and how to add one: docs/architecture.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace listenq {

// What a program is, as the kernel sees it: the unit a kernel refuses.
enum class ProgKind {
	fentry,
	fexit,
	kprobe,
	kretprobe,
	tp_btf,
	raw_tp,
	tracepoint,
	iter_tcp,
	iter_sk_storage_map,
	iter_task_file,
};
inline constexpr ProgKind kAllProgKinds[] = {
	ProgKind::fentry,     ProgKind::fexit,    ProgKind::kprobe,        ProgKind::kretprobe,
	ProgKind::tp_btf,     ProgKind::raw_tp,   ProgKind::tracepoint,    ProgKind::iter_tcp,
	ProgKind::iter_sk_storage_map, ProgKind::iter_task_file,
};
// "fentry", "kretprobe", "iter/tcp", "iter/bpf_sk_storage_map", ...
std::string_view prog_kind_name(ProgKind k);
std::optional<ProgKind> parse_prog_kind(std::string_view s);

// Map kinds the tracer can do without. global_data: the .bss/.rodata maps
// of global variables (5.2); without them trace_legacy.bpf.o keeps its
// settings in a map.
enum class MapKind { ringbuf, sk_storage, global_data };
inline constexpr MapKind kAllMapKinds[] = {MapKind::ringbuf, MapKind::sk_storage, MapKind::global_data};
std::string_view map_kind_name(MapKind k);  // "ringbuf", "sk_storage", "global_data"

// One program of trace.bpf.c. Its section is "<kind>/<target>".
struct ProgramSpec {
	std::string_view name;    // the C function: "on_set_state"
	ProgKind kind;
	std::string_view target;  // "inet_sock_set_state", "sock/inet_sock_set_state", "tcp"
	std::string section() const;
};
// Every program of trace.bpf.c (tests/unit/plan_test.cpp checks the object).
const std::vector<ProgramSpec> &trace_programs();
const ProgramSpec *find_program(std::string_view name);
// The ways `snapshot`, `ss` and `verify` read every listener, best first:
// the first the kernel runs is used, and the ways before it are named as
// refused. iter/tcp (snapshot.bpf.c); the kernel's own walk of
// /proc/net/tcp{,6} seen by two kprobes (walk.bpf.c: both together);
// iter/task_file (snapshot.bpf.c), which sees only sockets a process holds.
struct SnapshotWay {
	std::string_view source;           // as outputs name it: "iter/tcp", "kprobe/tcp_seq_show"
	std::vector<ProgramSpec> programs;  // run together
	std::string_view loses;            // what this way cannot show; "" when nothing
};
const std::vector<SnapshotWay> &snapshot_ways();
// Every program of the snapshot's ways, in their order (for the checks
// that cover every program listenq loads).
const std::vector<ProgramSpec> &snapshot_programs();

// The facts, in the order they are shown.
enum class FactId { listen, backlog, enqueue, accept, syn_path, ack_path, synack_retrans, queues };
std::string_view fact_name(FactId f);

// The output fields whose source the plan decides.
enum class TraceField {
	listen_events,      // listen/close events (and the listener set between samples)
	requested_backlog,  // listen()'s argument; re-listen and clamp events
	accept_queue_peak,
	syn_queue_peak,
	depth_hist,
	enqueued,
	accepted,
	accept_wait,
	overflow_syn,
	overflow_ack,
	synq_full_drops,
	synq_full_cookies,
	syncookies_sent,
	synack_retrans,
	hol_wait,  // the accept queue's oldest connection: how long it has waited
};
inline constexpr TraceField kAllFields[] = {
	TraceField::listen_events, TraceField::requested_backlog, TraceField::accept_queue_peak, TraceField::syn_queue_peak,
	TraceField::depth_hist,    TraceField::enqueued,          TraceField::accepted,          TraceField::accept_wait,
	TraceField::overflow_syn,  TraceField::overflow_ack,      TraceField::synq_full_drops,   TraceField::synq_full_cookies,
	TraceField::syncookies_sent, TraceField::synack_retrans, TraceField::hol_wait,
};
std::string_view field_name(TraceField f);  // the JSON name: "accept_queue_peak"

// A kernel function hooked in tiers 1-2, with its programs.
struct HookFn {
	std::string_view function;
	bool optional = false;           // absent: nothing to watch (tcp_v6_* without IPv6)
	std::string_view fentry;         // tier 1 (fentry or fexit)
	std::string_view kprobe;         // tier 2 entry
	std::string_view kretprobe = {}; // tier 2 return, when the return value is needed
};

// What a tier-3 way needs besides its programs.
// syscalls: the raw syscall hooks, which run on every syscall of every
// task: only where asked for (Plan::syscalls). enqueue_counted: the
// enqueue fact is served (a hook or its tier-3 way). busy_pass: that, and
// KernelFeatures::test_run_for_each, and trace.bpf.o (not the legacy one).
enum class Needs { nothing, drop_reason, sk_storage, syscalls, enqueue_counted, busy_pass };

// One tier-3 way of delivering a fact; every program is needed.
struct Way {
	std::string_view label;                   // "tp_btf/inet_sock_set_state"
	std::vector<std::string_view> programs;
	Needs needs = Needs::nothing;
	std::string_view cost;  // against the fact's first way ("" for the first)
};

struct FactSpec {
	FactId id;
	std::string_view purpose;
	std::vector<HookFn> hooks;  // tiers 1-2, all needed (empty: none)
	std::vector<Way> ways;      // tier 3, best first
	std::string_view floor;     // what remains with no program; "" : nothing (an error)
	std::vector<TraceField> fields;  // what its function hooks make exact
	// Taken on top of the way (or hooks) chosen, where they can be: the
	// busy pass of fact queues. Refused, the fact keeps what it chose.
	std::vector<Way> adds = {};
};

const std::vector<FactSpec> &fact_specs();
const FactSpec &fact_spec(FactId f);

}  // namespace listenq
