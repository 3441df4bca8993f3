#include "plan/facts.h"

#include <algorithm>

namespace listenq {

std::string_view prog_kind_name(ProgKind k)
{
	switch (k) {
	case ProgKind::fentry: return "fentry";
	case ProgKind::fexit: return "fexit";
	case ProgKind::kprobe: return "kprobe";
	case ProgKind::kretprobe: return "kretprobe";
	case ProgKind::tp_btf: return "tp_btf";
	case ProgKind::raw_tp: return "raw_tp";
	case ProgKind::tracepoint: return "tracepoint";
	case ProgKind::iter_tcp: return "iter/tcp";
	case ProgKind::iter_sk_storage_map: return "iter/bpf_sk_storage_map";
	case ProgKind::iter_task_file: return "iter/task_file";
	}
	return "?";
}

std::optional<ProgKind> parse_prog_kind(std::string_view s)
{
	for (ProgKind k : kAllProgKinds)
		if (s == prog_kind_name(k))
			return k;
	return std::nullopt;
}

std::string_view map_kind_name(MapKind k)
{
	switch (k) {
	case MapKind::ringbuf: return "ringbuf";
	case MapKind::sk_storage: return "sk_storage";
	case MapKind::global_data: return "global_data";
	}
	return "?";
}

std::string ProgramSpec::section() const
{
	// iter programs: the kind names the target already ("iter/tcp").
	if (kind == ProgKind::iter_tcp || kind == ProgKind::iter_sk_storage_map || kind == ProgKind::iter_task_file ||
	    target.empty())
		return std::string(prog_kind_name(kind));
	return std::string(prog_kind_name(kind)) + "/" + std::string(target);
}

const std::vector<ProgramSpec> &trace_programs()
{
	using K = ProgKind;
	static const std::vector<ProgramSpec> progs = {
		// fact listen (bpf/fact_listen.bpf.h)
		{"on_set_state", K::tp_btf, "inet_sock_set_state"},
		{"raw_set_state", K::raw_tp, "inet_sock_set_state"},
		{"tp_set_state", K::tracepoint, "sock/inet_sock_set_state"},
		{"fx_listen_start", K::fexit, "inet_csk_listen_start"},
		{"fn_listen_stop", K::fentry, "inet_csk_listen_stop"},
		{"kp_listen_start", K::kprobe, "inet_csk_listen_start"},
		{"krp_listen_start", K::kretprobe, "inet_csk_listen_start"},
		{"kp_listen_stop", K::kprobe, "inet_csk_listen_stop"},
		// fact accept (bpf/fact_accept.bpf.h)
		{"fx_accept", K::fexit, "inet_csk_accept"},
		{"kp_accept", K::kprobe, "inet_csk_accept"},
		{"krp_accept", K::kretprobe, "inet_csk_accept"},
		// facts backlog and accept, tier 3 (bpf/syscalls.bpf.h)
		{"on_sys_enter", K::tp_btf, "sys_enter"},
		{"on_sys_exit", K::tp_btf, "sys_exit"},
		{"raw_sys_enter", K::raw_tp, "sys_enter"},
		{"raw_sys_exit", K::raw_tp, "sys_exit"},
		{"tp_sys_enter", K::tracepoint, "raw_syscalls/sys_enter"},
		{"tp_sys_exit", K::tracepoint, "raw_syscalls/sys_exit"},
		// fact enqueue (bpf/fact_enqueue.bpf.h)
		{"fx_queue_add", K::fexit, "inet_csk_reqsk_queue_add"},
		{"fx_hashdance", K::fexit, "inet_csk_complete_hashdance"},
		{"kp_queue_add", K::kprobe, "inet_csk_reqsk_queue_add"},
		{"krp_queue_add", K::kretprobe, "inet_csk_reqsk_queue_add"},
		{"kp_hashdance", K::kprobe, "inet_csk_complete_hashdance"},
		{"krp_hashdance", K::kretprobe, "inet_csk_complete_hashdance"},
		// fact syn_path (bpf/fact_syn_path.bpf.h)
		{"fn_conn_request", K::fentry, "tcp_conn_request"},
		{"kp_conn_request", K::kprobe, "tcp_conn_request"},
		{"krp_conn_request", K::kretprobe, "tcp_conn_request"},
		// fact ack_path (bpf/fact_ack_path.bpf.h)
		{"fn_syn_recv_v4", K::fentry, "tcp_v4_syn_recv_sock"},
		{"fn_syn_recv_v6", K::fentry, "tcp_v6_syn_recv_sock"},
		{"kp_syn_recv_v4", K::kprobe, "tcp_v4_syn_recv_sock"},
		{"kp_syn_recv_v6", K::kprobe, "tcp_v6_syn_recv_sock"},
		{"on_kfree_skb", K::tp_btf, "kfree_skb"},
		{"raw_kfree_skb", K::raw_tp, "kfree_skb"},
		{"tp_kfree_skb", K::tracepoint, "skb/kfree_skb"},
		// fact synack_retrans (bpf/fact_synack.bpf.h)
		{"on_retransmit_synack", K::tp_btf, "tcp_retransmit_synack"},
		{"raw_retransmit_synack", K::raw_tp, "tcp_retransmit_synack"},
		{"tp_retransmit_synack", K::tracepoint, "tcp/tcp_retransmit_synack"},
		// fact queues (bpf/fact_queues.bpf.h)
		{"sample_tracked", K::iter_sk_storage_map, ""},
		{"sample_listeners", K::iter_tcp, ""},
		{"sample_files", K::iter_task_file, ""},
		{"sample_files_raw", K::iter_task_file, ""},
		{"sample_busy", K::raw_tp, ""},  // never attached: run by BPF_PROG_TEST_RUN
		{"sample_walk4", K::kprobe, "tcp4_seq_show"},
		{"sample_walk6", K::kprobe, "tcp6_seq_show"},
	};
	return progs;
}

const std::vector<SnapshotWay> &snapshot_ways()
{
	static const std::vector<SnapshotWay> ways = {
		{"iter/tcp", {{"dump_listeners", ProgKind::iter_tcp, ""}}, ""},
		{"kprobe/tcp_seq_show",
		 {{"walk_tcp4", ProgKind::kprobe, "tcp4_seq_show"}, {"walk_tcp6", ProgKind::kprobe, "tcp6_seq_show"}},
		 ""},
		{"iter/task_file",
		 {{"dump_files", ProgKind::iter_task_file, ""}},
		 "listeners no visible process holds (in-kernel, other pid namespaces) are not shown"},
	};
	return ways;
}

const std::vector<ProgramSpec> &snapshot_programs()
{
	static const std::vector<ProgramSpec> progs = [] {
		std::vector<ProgramSpec> v;
		for (const SnapshotWay &w : snapshot_ways())
			v.insert(v.end(), w.programs.begin(), w.programs.end());
		return v;
	}();
	return progs;
}

const ProgramSpec *find_program(std::string_view name)
{
	const auto &ps = trace_programs();
	auto it = std::find_if(ps.begin(), ps.end(), [&](const ProgramSpec &p) { return p.name == name; });
	return it == ps.end() ? nullptr : &*it;
}

std::string_view fact_name(FactId f)
{
	switch (f) {
	case FactId::listen: return "listen";
	case FactId::backlog: return "backlog";
	case FactId::enqueue: return "enqueue";
	case FactId::accept: return "accept";
	case FactId::syn_path: return "syn_path";
	case FactId::ack_path: return "ack_path";
	case FactId::synack_retrans: return "synack_retrans";
	case FactId::queues: return "queues";
	}
	return "?";
}

std::string_view field_name(TraceField f)
{
	switch (f) {
	case TraceField::listen_events: return "listen_events";
	case TraceField::requested_backlog: return "requested_backlog";
	case TraceField::accept_queue_peak: return "accept_queue_peak";
	case TraceField::syn_queue_peak: return "syn_queue_peak";
	case TraceField::depth_hist: return "depth_hist";
	case TraceField::enqueued: return "enqueued";
	case TraceField::accepted: return "accepted";
	case TraceField::accept_wait: return "accept_wait";
	case TraceField::overflow_syn: return "overflow_syn";
	case TraceField::overflow_ack: return "overflow_ack";
	case TraceField::synq_full_drops: return "synq_full_drops";
	case TraceField::synq_full_cookies: return "synq_full_cookies";
	case TraceField::syncookies_sent: return "syncookies_sent";
	case TraceField::synack_retrans: return "synack_retrans";
	case TraceField::hol_wait: return "hol_wait";
	}
	return "?";
}

namespace {

// Three kinds of the same tracepoint handler, best first.
constexpr std::string_view kRawCost =
	"no bpf_get_socket_cookie() there: a new listener is seeded by the next full sample pass";

}  // namespace

// Long: data: every fact's ways, one initializer per tier, read top to bottom.
const std::vector<FactSpec> &fact_specs()
{
	static const std::vector<FactSpec> facts = {
		{FactId::listen,
		 "a socket starts or stops listening",
		 {{"inet_csk_listen_start", false, "fx_listen_start", "kp_listen_start", "krp_listen_start"},
		  {"inet_csk_listen_stop", false, "fn_listen_stop", "kp_listen_stop"}},
		 {{"tp_btf/inet_sock_set_state", {"on_set_state"}, Needs::nothing, ""},
		  {"raw_tp/inet_sock_set_state", {"raw_set_state"}, Needs::nothing, kRawCost},
		  {"tracepoint/sock/inet_sock_set_state", {"tp_set_state"}, Needs::nothing, kRawCost}},
		 "listeners found by full sample passes (every 5 s), closes by pruning: late, without owner or "
		 "listen() argument",
		 {TraceField::listen_events}},
		{FactId::backlog,
		 "listen()'s requested backlog, re-listens, the somaxconn clamp",
		 {},  // inet_listen sees the backlog after the clamp: only the syscall has it
		 {{"tp_btf/sys_enter+sys_exit", {"on_sys_enter", "on_sys_exit"}, Needs::syscalls, ""},
		  {"raw_tp/sys_enter+sys_exit", {"raw_sys_enter", "raw_sys_exit"}, Needs::syscalls,
		   "the syscall number is read from pt_regs on every syscall"},
		  {"tracepoint/raw_syscalls/sys_enter+sys_exit", {"tp_sys_enter", "tp_sys_exit"}, Needs::syscalls, ""}},
		 "requested backlog and the somaxconn clamp not measured (--syscalls measures them); a re-listen shows as "
		 "a changed backlog at the next sample that reads the listener (within 5 s)",
		 {TraceField::requested_backlog}},
		{FactId::enqueue,
		 "a child reaches the accept queue",
		 {{"inet_csk_reqsk_queue_add", false, "fx_queue_add", "kp_queue_add", "krp_queue_add"},
		  {"inet_csk_complete_hashdance", false, "fx_hashdance", "kp_hashdance", "krp_hashdance"}},
		 {{"tp_btf/inet_sock_set_state: children SYN_RECV->ESTABLISHED, listener from a cloned sk_storage",
		   {"on_set_state"}, Needs::sk_storage,
		   "counts only: the accept-wait histogram needs tiers 1-2 (the head-of-line wait is sampled in every "
		   "tier); a TFO child counts when its handshake completes"}},
		 "accept-queue peak and depth sampled every --sample-ms; enqueues and accept wait not measured",
		 {TraceField::enqueued, TraceField::accept_queue_peak, TraceField::depth_hist, TraceField::accept_wait}},
		{FactId::accept,
		 "accept() takes a child off the queue",
		 {{"inet_csk_accept", false, "fx_accept", "kp_accept", "krp_accept"}},
		 {{"tp_btf/sys_enter+sys_exit", {"on_sys_enter", "on_sys_exit"}, Needs::syscalls, ""},
		  {"raw_tp/sys_enter+sys_exit", {"raw_sys_enter", "raw_sys_exit"}, Needs::syscalls,
		   "the syscall number is read from pt_regs on every syscall"},
		  {"tracepoint/raw_syscalls/sys_enter+sys_exit", {"tp_sys_enter", "tp_sys_exit"}, Needs::syscalls, ""},
		  {"enqueues minus the sampled accept queue", {}, Needs::enqueue_counted,
		   "counted at each sample (--sample-ms), never ahead of the truth; a TFO child reset before its "
		   "handshake completes is not counted"}},
		 "accepts not measured",
		 {TraceField::accepted, TraceField::accept_wait}},
		{FactId::syn_path,
		 "tcp_conn_request's verdict on a SYN: accept queue full, SYN queue full, syncookie",
		 {{"tcp_conn_request", false, "fn_conn_request", "kp_conn_request", "krp_conn_request"}},
		 {},
		 "from the netns TcpExt counters, given to the one listener under SYN pressure",
		 {TraceField::overflow_syn, TraceField::synq_full_drops, TraceField::synq_full_cookies, TraceField::syncookies_sent}},
		{FactId::ack_path,
		 "the final ACK dropped: accept queue full",
		 {{"tcp_v4_syn_recv_sock", false, "fn_syn_recv_v4", "kp_syn_recv_v4"},
		  {"tcp_v6_syn_recv_sock", true, "fn_syn_recv_v6", "kp_syn_recv_v6"}},
		 {{"tp_btf/kfree_skb (reason TCP_LISTEN_OVERFLOW)", {"on_kfree_skb"}, Needs::drop_reason, ""},
		  {"raw_tp/kfree_skb (reason TCP_LISTEN_OVERFLOW)", {"raw_kfree_skb"}, Needs::drop_reason, ""},
		  {"tracepoint/skb/kfree_skb (reason TCP_LISTEN_OVERFLOW)", {"tp_kfree_skb"}, Needs::drop_reason, ""}},
		 "the sk_drops rise no hook explains (sampled) when tcp_conn_request is hooked, else not split "
		 "from the SYN path",
		 {TraceField::overflow_ack}},
		{FactId::synack_retrans,
		 "SYN-ACKs sent again",
		 {},
		 {{"tp_btf/tcp_retransmit_synack", {"on_retransmit_synack"}, Needs::nothing, ""},
		  {"raw_tp/tcp_retransmit_synack", {"raw_retransmit_synack"}, Needs::nothing, ""},
		  {"tracepoint/tcp/tcp_retransmit_synack", {"tp_retransmit_synack"}, Needs::nothing, ""}},
		 "SYN-ACK retransmits not measured",
		 {TraceField::synack_retrans}},
		{FactId::queues,
		 "each listener's accept queue, SYN queue and drops now; listeners older than listenq",
		 {},
		 {{"iter/bpf_sk_storage_map each sample + iter/tcp full pass every 5 s",
		   {"sample_tracked", "sample_listeners"}, Needs::sk_storage, ""},
		  {"iter/bpf_sk_storage_map each sample + iter/task_file full pass every 5 s",
		   {"sample_tracked", "sample_files"}, Needs::sk_storage,
		   "full passes find only the listeners a process visible to listenq holds as a file"},
		  {"cheaper of iter/task_file and per-netns iter/tcp each sample, iter/tcp every 5 s",
		   {"sample_listeners", "sample_files"}, Needs::nothing,
		   "a full walk each sample (its time is on watch's status line); listeners no visible process "
		   "holds are sampled every 5 s"},
		  {"cheaper of iter/task_file (read as raw pointers) and per-netns iter/tcp each sample, iter/tcp "
		   "every 5 s",
		   {"sample_listeners", "sample_files_raw"}, Needs::nothing,
		   "a full walk each sample; the files walk reads socket->sk as the verifier allows it here (no "
		   "helpers): it samples the listeners that iter/tcp or a listen hook has seen; listeners no "
		   "visible process holds are sampled every 5 s"},
		  {"iter/tcp full pass of each tracked netns each sample", {"sample_listeners"}, Needs::nothing,
		   "each sample walks every TCP hash bucket, once per tracked netns"},
		  {"iter/task_file full pass each sample", {"sample_files"}, Needs::nothing,
		   "each sample walks every process's open files; listeners no visible process holds are not seen"},
		  {"kprobe walk of /proc/net/tcp{,6} in each tracked netns each sample",
		   {"sample_walk4", "sample_walk6"}, Needs::nothing,
		   "each sample has the kernel format every TCP socket of each tracked netns as /proc text; no "
		   "socket cookies (cookie 0): listeners are keyed by socket pointer"},
		  {"iter/bpf_sk_storage_map each sample, no full pass", {"sample_tracked"}, Needs::sk_storage,
		   "listeners older than listenq, or started under a raw hook, are never seen"}},
		 "",  // nothing reads the queues: the tracer cannot run
		 {},
		 {{"raw_tp sample_busy (test run) each sample instead: the busy listeners, every listener every 5 s; "
		   "the walk each minute, to seed",
		   {"sample_busy"}, Needs::busy_pass,
		   "an idle listener (empty queues at its last read, nothing counted since) is read every 5 s: a "
		   "re-listen or a drop no hook counts shows within 5 s"}}},
	};
	return facts;
}

const FactSpec &fact_spec(FactId f)
{
	for (const FactSpec &s : fact_specs())
		if (s.id == f)
			return s;
	return fact_specs().front();
}

}  // namespace listenq
