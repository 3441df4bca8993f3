#include "bpf/tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <poll.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "bpf/libbpf_raii.h"
#include "bpf/trace_decode.h"
#include "listenq/abi.h"
#include "sources/kernel_info.h"
#include "sources/netns.h"
#include "sources/proc_net.h"
#include "sources/proc_owners.h"
#include "trace.skel.h"
#include "util/clock.h"
#include "util/unique_fd.h"

namespace listenq {

using TraceSkel = SkelPtr<trace_bpf, trace_bpf__destroy>;

// Which tier delivers each fact exactly on this kernel (none: tier 3).
struct TierCoverage {
	Tier listen = Tier::none, enqueue = Tier::none, accept = Tier::none;
	Tier conn_request = Tier::none, ack_overflow = Tier::none;
	bool ack_by_drop_reason = false;  // tier 3 kfree_skb reason (6.15+)

	static bool exact(Tier t) { return t == Tier::fentry || t == Tier::kprobe; }
};

// Member order is teardown order, reversed: the ringbuf and links go
// before the skeleton that owns their maps and programs.
struct Tracer::Impl {
	TraceSkel skel;
	std::vector<LinkPtr> links;
	LinkPtr iter_link;     // iter/tcp: every listener of one netns (full pass)
	LinkPtr tracked_link;  // iter/bpf_sk_storage_map: the tracked listeners
	std::uint64_t last_full_ns = 0;
	std::uint64_t netns_seeded = 0, netns_unseeded = 0;
	std::uint64_t untracked = 0, stale_removed = 0;
	std::map<std::uint64_t, std::uint64_t> samples_at_prune;  // cookie -> samples at the last full pass
	RingBufPtr rb;
	EventFn on_event;
	std::string event_error;
	TierCoverage coverage;
	std::vector<std::string> skipped;  // function hooks that did not attach, and why
	std::optional<SynAttributor> synq;  // tier 3: tcp_conn_request not hooked
	std::map<std::uint32_t, std::string> netns_paths;  // inode -> nsfs file, for TcpExt
	// Owners of seeded listeners (listen() not seen), found once in /proc
	// by socket inode; pid 0 when no process holds it.
	std::map<std::uint64_t, ProcessRef> seeded_owners;  // by cookie
};

namespace {

int on_ringbuf(void *ctx, void *data, size_t size)
{
	auto *impl = static_cast<Tracer::Impl *>(ctx);
	auto ev = decode_event({static_cast<const std::uint8_t *>(data), size});
	if (!ev) {
		impl->event_error = ev.error().message;
		return 0;
	}
	if (impl->on_event)
		impl->on_event(*ev);
	return 0;
}

}  // namespace

Tracer::Tracer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tracer::~Tracer() = default;

std::vector<std::string> Tracer::sampled_fields() const
{
	const TierCoverage &c = impl_->coverage;
	std::vector<std::string> out;
	if (!c.exact(c.enqueue))
		out.push_back("accept_queue_peak");
	out.push_back("syn_queue_peak");
	if (c.exact(c.conn_request) && !c.exact(c.ack_overflow) && !c.ack_by_drop_reason)
		out.push_back("overflow_ack");  // the sk_drops rise the exact hooks do not explain
	if (!c.exact(c.enqueue))
		out.push_back("depth_hist");
	return out;
}

std::vector<std::string> Tracer::unmeasured_fields() const
{
	const TierCoverage &c = impl_->coverage;
	std::vector<std::string> out;
	if (!c.exact(c.enqueue))
		out.push_back("enqueued");
	if (!measures_waits())
		out.push_back("accept_wait");
	// Without tcp_conn_request or an ACK-path hook, ListenOverflows cannot
	// be split by path: overflow_syn then holds both.
	if (!c.exact(c.conn_request) && !c.exact(c.ack_overflow) && !c.ack_by_drop_reason)
		out.push_back("overflow_ack");
	return out;
}

std::vector<std::string> Tracer::attributed_fields() const
{
	if (!impl_->synq)
		return {};
	return {"overflow_syn", "synq_full_drops", "synq_full_cookies", "syncookies_sent"};
}

std::vector<Unattributed> Tracer::unattributed() const
{
	return impl_->synq ? impl_->synq->unattributed() : std::vector<Unattributed>{};
}

namespace {

// One kernel function of the tracer, with its tier-1 program and its tier-2
// twin (kprobe at entry, plus a kretprobe when the return value is needed).
struct FunctionHook {
	const char *function;
	bpf_program *fentry;
	const char *fentry_name;
	bpf_program *kprobe;
	bpf_program *kretprobe;  // nullptr: entry is enough
	bool optional = false;   // absent from the kernel: nothing to watch (tcp_v6_* without IPv6)
};

// The facts and the functions each needs (all of them, or tier 3 keeps it).
struct Fact {
	Tier TierCoverage::*tier;
	std::vector<FunctionHook> hooks;
};

std::vector<Fact> facts(trace_bpf *s)
{
	auto &p = s->progs;
	return {
		{&TierCoverage::listen,
		 {{"inet_csk_listen_start", p.fx_listen_start, "fexit/inet_csk_listen_start", p.kp_listen_start,
		   p.krp_listen_start},
		  {"inet_csk_listen_stop", p.fn_listen_stop, "fentry/inet_csk_listen_stop", p.kp_listen_stop, nullptr}}},
		{&TierCoverage::enqueue,
		 {{"inet_csk_reqsk_queue_add", p.fx_queue_add, "fexit/inet_csk_reqsk_queue_add", p.kp_queue_add,
		   p.krp_queue_add},
		  {"inet_csk_complete_hashdance", p.fx_hashdance, "fexit/inet_csk_complete_hashdance", p.kp_hashdance,
		   p.krp_hashdance}}},
		{&TierCoverage::accept,
		 {{"inet_csk_accept", p.fx_accept, "fexit/inet_csk_accept", p.kp_accept, p.krp_accept}}},
		{&TierCoverage::conn_request,
		 {{"tcp_conn_request", p.fn_conn_request, "fentry/tcp_conn_request", p.kp_conn_request, nullptr}}},
		{&TierCoverage::ack_overflow,
		 {{"tcp_v4_syn_recv_sock", p.fn_syn_recv_v4, "fentry/tcp_v4_syn_recv_sock", p.kp_syn_recv_v4, nullptr},
		  {"tcp_v6_syn_recv_sock", p.fn_syn_recv_v6, "fentry/tcp_v6_syn_recv_sock", p.kp_syn_recv_v6,
		   nullptr, true}}},
	};
}

// The hooked functions this kernel has (looked up once: the vmlinux BTF is
// ~20 MiB parsed, freed before libbpf parses its own copy at load).
using FunctionSet = std::set<std::string, std::less<>>;

// LISTENQ_SKIP_FUNCTIONS=fn,fn: kernel functions to treat as absent (their
// facts fall back to tier 3 exactly as on a kernel without them): for a
// kernel where hooking one is unwanted, and for the tests of that fallback.
FunctionSet functions_skipped_by_user()
{
	FunctionSet out;
	const char *env = std::getenv("LISTENQ_SKIP_FUNCTIONS");
	std::string_view list = env ? env : "";
	while (!list.empty()) {
		const auto comma = list.find(',');
		if (auto fn = list.substr(0, comma); !fn.empty())
			out.emplace(fn);
		list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
	}
	return out;
}

FunctionSet functions_in_btf(trace_bpf *s)
{
	FunctionSet out;
	const FunctionSet skip = functions_skipped_by_user();
	BtfPtr vmlinux(btf__load_vmlinux_btf());
	for (const Fact &f : facts(s))
		for (const FunctionHook &h : f.hooks)
			if (vmlinux && !skip.count(std::string_view(h.function)) &&
			    btf__find_by_name_kind(vmlinux.get(), h.function, BTF_KIND_FUNC) >= 0)
				out.insert(h.function);
	return out;
}

bool in_btf(const FunctionSet &present, const char *fn) { return present.count(std::string_view(fn)) > 0; }

// vmlinux: the hooked functions this kernel has, looked up on the first open.
Result<TraceSkel> open_skel(const TracerOptions &opts, bool fentry, bool kprobe, std::optional<FunctionSet> &vmlinux,
			    bool drop_reason)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	if (!opts.btf_path.empty())
		oo.btf_custom_path = opts.btf_path.c_str();
	TraceSkel skel(trace_bpf__open_opts(&oo));
	if (!skel)
		return Error::from_errno(errno, "open BPF object trace_bpf");
	trace_bpf *s = skel.get();
	if (!vmlinux)
		vmlinux = functions_in_btf(s);
	bpf_map__set_max_entries(s->maps.listeners, opts.max_listeners);
	bpf_map__set_max_entries(s->maps.epochs, opts.max_listeners);
	bpf_map__set_max_entries(s->maps.events, opts.ringbuf_bytes);
	// ACK-path drops by reason exist from 6.15 (kfree_skb with rx_sk).
	bpf_program__set_autoload(s->progs.on_kfree_skb, drop_reason);
	for (const Fact &f : facts(s))
		for (const FunctionHook &h : f.hooks) {
			const bool exists = in_btf(*vmlinux, h.function);
			bpf_program__set_autoload(h.fentry, fentry && exists);
			bpf_program__set_autoload(h.kprobe, kprobe && exists);
			if (h.kretprobe)
				bpf_program__set_autoload(h.kretprobe, kprobe && exists);
		}
	return skel;
}

// Attaches one function hook in the given tier; on failure says why.
Result<std::vector<LinkPtr>> attach_hook(const FunctionHook &h, Tier t)
{
	std::vector<LinkPtr> links;
	std::vector<std::pair<bpf_program *, std::string>> progs;
	if (t == Tier::fentry)
		progs.emplace_back(h.fentry, h.fentry_name);
	else {
		progs.emplace_back(h.kprobe, std::string("kprobe/") + h.function);
		if (h.kretprobe)
			progs.emplace_back(h.kretprobe, std::string("kretprobe/") + h.function);
	}
	for (auto &[prog, name] : progs) {
		if (!bpf_program__autoload(prog))
			return Error{ENOENT, name + ": not loaded"};
		LinkPtr l(bpf_program__attach(prog));
		if (!l)
			return Error{errno, "attach " + name + ": " + errno_text(errno)};
		links.push_back(std::move(l));
	}
	return links;
}

std::string hook_names(const FunctionHook &h, Tier t)
{
	if (t == Tier::fentry)
		return h.fentry_name;
	return std::string(h.kretprobe ? "kprobe+kretprobe/" : "kprobe/") + h.function;
}

}  // namespace

Result<std::unique_ptr<Tracer>> Tracer::start(const TracerOptions &opts, const KernelFeatures &features,
					      EventFn on_event)
{
	if (!features.tp_btf.ok)
		return Error{EOPNOTSUPP, "tracing needs tp_btf: " + features.tp_btf.detail};
	if (!features.iter_tcp.ok)
		return Error{EOPNOTSUPP, "tracing needs iter/tcp: " + features.iter_tcp.detail};
	if (!features.ringbuf.ok)
		return Error{EOPNOTSUPP, "tracing needs a BPF ringbuf: " + features.ringbuf.detail};
	const AttachMode mode = opts.attach;
	if (mode == AttachMode::kprobe && !features.kprobe_pmu.ok)
		return Error{EOPNOTSUPP, "--attach=kprobe: " + features.kprobe_pmu.detail};

	auto impl = std::make_unique<Impl>();
	impl->on_event = std::move(on_event);
	const bool drop_reason = features.kfree_skb_listen_overflow.ok;
	std::optional<FunctionSet> vmlinux;
	std::vector<std::string> attached;

	// Tier 1 first; a kernel that refuses trampolines fails the whole load
	// (a failed load cannot be retried on the same object: re-open without).
	bool fentry = mode == AttachMode::automatic || mode == AttachMode::fentry;
	// A forced tier is the only function-hook tier tried; a fact it cannot
	// cover stays on tier 3 (6.1 --attach=fentry: the 7-argument
	// tcp_v4_syn_recv_sock). Nothing attached in that tier is an error.
	const bool kprobe = (mode == AttachMode::automatic || mode == AttachMode::kprobe) && features.kprobe_pmu.ok;
	std::string fentry_error;
	for (;;) {
		auto skel = open_skel(opts, fentry, kprobe, vmlinux, drop_reason);
		if (!skel)
			return skel.error();
		impl->skel = std::move(*skel);
		int err = trace_bpf__load(impl->skel.get());
		if (!err)
			break;
		if (mode == AttachMode::fentry)
			return Error{EOPNOTSUPP, "--attach=fentry: the kernel refused the fentry/fexit programs (" +
							 std::string(std::strerror(-err)) + "; lockdown or policy?)"};
		if (!fentry)
			return Error::from_errno(-err, "load BPF object trace_bpf");
		fentry_error = "fentry/fexit: load: " + std::string(std::strerror(-err));
		fentry = false;
	}
	trace_bpf *s = impl->skel.get();
	if (!fentry_error.empty())
		impl->skipped.push_back(fentry_error);
	if (mode == AttachMode::automatic && !kprobe)
		impl->skipped.push_back("kprobe: " + features.kprobe_pmu.detail);

	// Fact by fact, function by function: fentry, else the kprobe twin (6.1:
	// the trampoline of the 7-argument tcp_v4_syn_recv_sock cannot attach).
	// A fact is exact only when all its functions attached; otherwise its
	// links go and tier 3 keeps it.
	TierCoverage &c = impl->coverage;
	for (const Fact &f : facts(s)) {
		std::vector<LinkPtr> links;
		std::vector<std::string> names;
		std::set<Tier> used;
		bool complete = true;
		for (const FunctionHook &h : f.hooks) {
			if (!in_btf(*vmlinux, h.function)) {
				if (h.optional)
					continue;
				impl->skipped.push_back(std::string(h.function) +
							(functions_skipped_by_user().count(std::string_view(h.function))
								 ? ": skipped (LISTENQ_SKIP_FUNCTIONS)"
								 : ": not in kernel BTF"));
				complete = false;
				break;
			}
			bool done = false;
			for (Tier t : {Tier::fentry, Tier::kprobe}) {
				if ((t == Tier::fentry && !fentry) || (t == Tier::kprobe && !kprobe))
					continue;
				auto l = attach_hook(h, t);
				if (!l) {
					impl->skipped.push_back(std::string(tier_name(t)) + ": " + l.error().message);
					continue;
				}
				for (auto &x : *l)
					links.push_back(std::move(x));
				names.push_back(hook_names(h, t));
				used.insert(t);
				done = true;
				break;
			}
			if (!done) {
				complete = false;
				break;
			}
		}
		if (!complete)
			continue;
		c.*f.tier = used.count(Tier::fentry) && !used.count(Tier::kprobe) ? Tier::fentry : Tier::kprobe;
		for (auto &l : links)
			impl->links.push_back(std::move(l));
		attached.insert(attached.end(), names.begin(), names.end());
	}

	if (mode == AttachMode::fentry || mode == AttachMode::kprobe) {
		const Tier want = mode == AttachMode::fentry ? Tier::fentry : Tier::kprobe;
		bool any = false;
		for (Tier t : {c.listen, c.enqueue, c.accept, c.conn_request, c.ack_overflow})
			any |= t == want;
		if (!any)
			return Error{EOPNOTSUPP, "--attach=" + std::string(tier_name(want)) + ": no hook attached (" +
							 (impl->skipped.empty() ? std::string("?") : impl->skipped.front()) + ")"};
	}

	// tp_btf/inet_sock_set_state: tier 3's listen start/stop, and in tier 2
	// the generator of the cookie that the kprobes read (skc_cookie).
	const bool set_state = c.listen != Tier::fentry;
	struct Attach {
		bpf_program *prog;
		const char *name;
		bool wanted;
	} tier3[] = {
		{s->progs.on_set_state,
		 c.listen == Tier::kprobe ? "tp_btf/inet_sock_set_state (cookie)" : "tp_btf/inet_sock_set_state",
		 set_state},
		// listen()'s requested backlog exists only at the syscall: always.
		{s->progs.on_sys_enter, "tp_btf/sys_enter", true},
		{s->progs.on_sys_exit, "tp_btf/sys_exit", true},
		{s->progs.on_retransmit_synack, "tp_btf/tcp_retransmit_synack", true},
		{s->progs.on_kfree_skb, "tp_btf/kfree_skb", drop_reason && !c.exact(c.ack_overflow)},
	};
	for (const auto &a : tier3) {
		if (!a.wanted)
			continue;
		LinkPtr l(bpf_program__attach(a.prog));
		if (!l)
			return Error::from_errno(errno, std::string("attach ") + a.name);
		impl->links.push_back(std::move(l));
		attached.emplace_back(a.name);
	}
	impl->iter_link.reset(bpf_program__attach_iter(s->progs.sample_listeners, nullptr));
	if (!impl->iter_link)
		return Error::from_errno(errno, "attach iter/tcp sample_listeners");
	attached.emplace_back("iter/tcp sample_listeners");
	{
		union bpf_iter_link_info info = {};
		info.map.map_fd = static_cast<__u32>(bpf_map__fd(s->maps.tracked));
		LIBBPF_OPTS(bpf_iter_attach_opts, io, .link_info = &info, .link_info_len = sizeof(info));
		impl->tracked_link.reset(bpf_program__attach_iter(s->progs.sample_tracked, &io));
		if (!impl->tracked_link)
			return Error::from_errno(errno, "attach iter/bpf_sk_storage_map sample_tracked");
		attached.emplace_back("iter/bpf_sk_storage_map sample_tracked");
	}
	impl->rb.reset(ring_buffer__new(bpf_map__fd(s->maps.events), on_ringbuf, impl.get(), nullptr));
	if (!impl->rb)
		return Error::from_errno(errno, "create ring buffer for map events");

	// Hand over to the exact hooks only now that everything is attached.
	s->bss->exact_listen = c.exact(c.listen);
	s->bss->exact_enqueue = c.exact(c.enqueue);
	s->bss->exact_accept = c.exact(c.accept);
	s->bss->exact_conn_request = c.exact(c.conn_request);
	s->bss->exact_ack_overflow = c.exact(c.ack_overflow);
	c.ack_by_drop_reason = drop_reason && !c.exact(c.ack_overflow);
	if (!c.exact(c.conn_request))
		impl->synq.emplace(c.exact(c.ack_overflow) || c.ack_by_drop_reason);

	std::unique_ptr<Tracer> t(new Tracer(std::move(impl)));
	t->attached_ = std::move(attached);
	return t;
}

std::string Tracer::tier() const
{
	const TierCoverage &c = impl_->coverage;
	bool fentry = false, kprobe = false, tracepoint = false;
	for (Tier t : {c.listen, c.enqueue, c.accept, c.conn_request, c.ack_overflow}) {
		fentry |= t == Tier::fentry;
		kprobe |= t == Tier::kprobe;
		tracepoint |= t == Tier::none;
	}
	std::string out;
	for (auto [on, name] : {std::pair{fentry, "fentry"}, std::pair{kprobe, "kprobe"}, std::pair{tracepoint, "tracepoint"}})
		if (on)
			out += (out.empty() ? "" : "+") + std::string(name);
	return out;
}

bool Tracer::measures_waits() const
{
	const TierCoverage &c = impl_->coverage;
	return c.exact(c.enqueue) && c.exact(c.accept);
}

const std::vector<std::string> &Tracer::skipped() const { return impl_->skipped; }

namespace {

Result<void> run_iter(bpf_link *link, const char *what)
{
	UniqueFd it(bpf_iter_create(bpf_link__fd(link)));
	if (!it.valid())
		return Error::from_errno(errno, std::string("create ") + what);
	char buf[4096];
	for (;;) {
		ssize_t n = ::read(it.get(), buf, sizeof(buf));
		if (n == 0)
			return {};
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return Error::from_errno(errno, std::string("read ") + what);
	}
}

}  // namespace

namespace {

// Every entry of the listeners map, in the kernel's order.
void each_listener(int fd, const std::function<void(const lq_listener_key &, const lq_listener_state &)> &fn)
{
	lq_listener_key key{}, next{};
	lq_listener_key *prev = nullptr;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		lq_listener_state st;
		if (bpf_map_lookup_elem(fd, &next, &st) == 0)
			fn(next, st);
		key = next;
		prev = &key;
	}
}

// Sum over CPUs of one slot of the per-CPU stats array; zero: reset it.
std::uint64_t stat_sum(int fd, std::uint32_t idx, bool zero)
{
	const int ncpu = libbpf_num_possible_cpus();
	std::vector<std::uint64_t> vals(static_cast<std::size_t>(ncpu > 0 ? ncpu : 1));
	std::uint64_t sum = 0;
	if (bpf_map_lookup_elem(fd, &idx, vals.data()) == 0)
		for (auto v : vals)
			sum += v;
	if (zero) {
		std::fill(vals.begin(), vals.end(), 0);
		bpf_map_update_elem(fd, &idx, vals.data(), BPF_ANY);
	}
	return sum;
}

}  // namespace

// The first pass: every netns of the machine (containers), since an
// iterator walks the netns of the thread that creates it; later listeners
// there are caught starting by the hooks, which see every netns. Tier 3
// takes each netns's TcpExt counters there too: its attribution baseline.
Result<void> Tracer::first_pass()
{
	const std::uint32_t own = current_netns_inode();
	std::map<std::uint32_t, ListenCounters> start;
	auto pass_here = [&](std::uint32_t inode) -> Result<void> {
		if (impl_->synq)
			if (auto c = read_listen_counters("/proc/thread-self"))
				start[inode] = *c;
		return run_iter(impl_->iter_link.get(), "iter/tcp sample_listeners");
	};
	if (auto r = pass_here(own); !r)
		return r;
	impl_->netns_seeded++;
	for (const NetnsRef &ns : list_netns()) {
		if (ns.inode == own)
			continue;
		auto r = in_netns(ns.path, [&] { return pass_here(ns.inode); });
		if (!r && r.error().err == ENOTRECOVERABLE)
			return r;
		(r ? impl_->netns_seeded : impl_->netns_unseeded)++;
	}
	if (impl_->synq)
		impl_->synq->set_start(start);
	return {};
}

// Entries whose listener no pass has visited for a full-pass period are
// ghosts (a close that no hook saw, e.g. a missed kprobe): removed, counted.
void Tracer::prune_stale()
{
	int fd = bpf_map__fd(impl_->skel->maps.listeners);
	int epochs = bpf_map__fd(impl_->skel->maps.epochs);
	std::map<std::uint64_t, std::uint64_t> seen;  // cookie -> samples
	std::vector<lq_listener_key> stale;
	each_listener(fd, [&](const lq_listener_key &k, const lq_listener_state &st) {
		auto it = impl_->samples_at_prune.find(k.cookie);
		if (it != impl_->samples_at_prune.end() && it->second == st.samples)
			stale.push_back(k);
		else
			seen[k.cookie] = st.samples;
	});
	for (const lq_listener_key &k : stale) {
		if (bpf_map_delete_elem(fd, &k) == 0)
			impl_->stale_removed++;
		bpf_map_delete_elem(epochs, &k);
	}
	impl_->samples_at_prune = std::move(seen);
}

Result<void> Tracer::sample()
{
	// The full iter/tcp pass costs a walk of every TCP hash bucket whatever
	// the number of sockets: at the first sample and every 5 s, to seed
	// listeners no hook saw start. Otherwise only the tracked ones.
	constexpr std::uint64_t kFullEveryNs = 5'000'000'000ULL;
	const std::uint64_t now = monotonic_ns();
	const int stats_fd = bpf_map__fd(impl_->skel->maps.stats);
	stat_sum(stats_fd, LQ_STAT_UNTRACKED, /*zero=*/true);
	const bool first = !impl_->last_full_ns;
	const bool full = first || now - impl_->last_full_ns >= kFullEveryNs;
	if (full) {
		if (auto r = first ? first_pass() : run_iter(impl_->iter_link.get(), "iter/tcp sample_listeners"); !r)
			return r;
		if (!first)
			prune_stale();
		impl_->last_full_ns = now;
		full_samples_++;
	} else if (auto r = run_iter(impl_->tracked_link.get(), "iter/bpf_sk_storage_map sample_tracked"); !r) {
		return r;
	}
	// Listeners the map had no room for, as this pass found them; a later
	// full pass walks only our netns, so only the others count them all.
	if (first || !full)
		impl_->untracked = stat_sum(stats_fd, LQ_STAT_UNTRACKED, false);
	// Raw counts of the first sample are the listeners' baselines.
	if (samples_++ == 0 && impl_->synq)
		if (auto r = read_listeners(); !r)
			return r.error();
	return {};
}

Result<int> Tracer::poll(int timeout_ms, int wake_fd)
{
	int n;
	if (wake_fd < 0) {
		n = ring_buffer__poll(impl_->rb.get(), timeout_ms);
	} else {
		// The ring buffer's epoll fd is readable when a ring has data.
		pollfd fds[2] = {{ring_buffer__epoll_fd(impl_->rb.get()), POLLIN, 0}, {wake_fd, POLLIN, 0}};
		if (::poll(fds, 2, timeout_ms) < 0 && errno != EINTR)
			return Error::from_errno(errno, "poll ring buffer and wake fd");
		n = ring_buffer__consume(impl_->rb.get());
	}
	if (n < 0 && n != -EINTR)
		return Error::from_errno(-n, "poll ring buffer events");
	if (!impl_->event_error.empty())
		return Error{EPROTO, impl_->event_error};
	return n < 0 ? 0 : n;
}

namespace {

// TcpExt of the netns with this inode (nullopt: it cannot be read, e.g.
// gone): our own directly, another by entering it through an nsfs file
// (cached; listed again when one is missing or fails). An error only when
// this thread could not come back to its own netns.
Result<std::optional<ListenCounters>> netns_counters(std::uint32_t inode, std::map<std::uint32_t, std::string> &paths)
{
	auto read_here = []() { return read_listen_counters("/proc/thread-self"); };
	if (inode == current_netns_inode()) {
		auto c = read_here();
		return c ? std::optional<ListenCounters>(*c) : std::nullopt;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (attempt || !paths.count(inode)) {
			paths.clear();
			for (const NetnsRef &ns : list_netns())
				paths[ns.inode] = ns.path;
		}
		auto p = paths.find(inode);
		if (p == paths.end())
			return std::optional<ListenCounters>{};
		std::optional<ListenCounters> out;
		auto r = in_netns(p->second, [&]() -> Result<void> {
			if (auto c = read_here())
				out = *c;
			return {};
		});
		if (!r && r.error().err == ENOTRECOVERABLE)
			return r.error();
		if (out)
			return out;
	}
	return std::optional<ListenCounters>{};
}

}  // namespace

namespace {

// A seeded listener's owner is the lowest pid holding its socket (a
// pre-forking server's parent), looked up once per listener: the /proc
// scan runs only when listeners without an owner appear.
void fill_seeded_owners(std::vector<ListenerStat> &stats, std::map<std::uint64_t, ProcessRef> &cache)
{
	std::map<std::uint64_t, ProcessRef> kept;
	std::unordered_set<std::uint64_t> wanted;
	for (const ListenerStat &s : stats) {
		if (s.owner_pid || !s.id.inode)
			continue;
		if (auto it = cache.find(s.id.cookie); it != cache.end())
			kept.insert(*it);
		else
			wanted.insert(s.id.inode);
	}
	if (!wanted.empty()) {
		auto found = scan_socket_owners(wanted);
		for (const ListenerStat &s : stats) {
			if (s.owner_pid || !wanted.count(s.id.inode))
				continue;
			ProcessRef owner;
			if (auto it = found.find(s.id.inode); it != found.end() && !it->second.empty())
				owner = *std::min_element(it->second.begin(), it->second.end(),
							  [](const ProcessRef &a, const ProcessRef &b) { return a.pid < b.pid; });
			kept[s.id.cookie] = owner;
		}
	}
	cache = std::move(kept);
	for (ListenerStat &s : stats) {
		if (s.owner_pid)
			continue;
		if (auto it = cache.find(s.id.cookie); it != cache.end()) {
			s.owner_pid = static_cast<std::uint32_t>(it->second.pid);
			s.owner_comm = it->second.comm;
		}
	}
}

}  // namespace

Result<std::vector<ListenerStat>> Tracer::read_listeners()
{
	std::vector<ListenerStat> out;
	each_listener(bpf_map__fd(impl_->skel->maps.listeners),
		      [&](const lq_listener_key &k, const lq_listener_state &st) { out.push_back(listener_stat_from(k, st)); });
	fill_seeded_owners(out, impl_->seeded_owners);
	if (impl_->synq) {
		std::map<std::uint32_t, ListenCounters> mibs;
		for (const ListenerStat &l : out)
			if (!mibs.count(l.id.netns)) {
				auto c = netns_counters(l.id.netns, impl_->netns_paths);
				if (!c)
					return c.error();
				if (*c)
					mibs[l.id.netns] = **c;
			}
		impl_->synq->apply(out, mibs);
	}
	return out;
}

void Tracer::next_interval() { impl_->skel->bss->interval_epoch++; }

TracerStats Tracer::stats() const
{
	TracerStats s;
	s.samples = samples_;
	s.netns_seeded = impl_->netns_seeded;
	s.netns_unseeded = impl_->netns_unseeded;
	s.untracked = impl_->untracked;
	s.stale_removed = impl_->stale_removed;
	s.events_lost = stat_sum(bpf_map__fd(impl_->skel->maps.stats), LQ_STAT_EVENTS_LOST, false);
	return s;
}

}  // namespace listenq
