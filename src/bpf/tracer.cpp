#include "bpf/tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <vector>

#include "bpf/libbpf_raii.h"
#include "bpf/trace_decode.h"
#include "listenq/abi.h"
#include "trace.skel.h"
#include "util/unique_fd.h"

namespace listenq {

using TraceSkel = SkelPtr<trace_bpf, trace_bpf__destroy>;

// Member order is teardown order, reversed: the ringbuf and links go
// before the skeleton that owns their maps and programs.
// Which facts tier 1 delivers exactly on this kernel.
struct TierCoverage {
	bool listen = false, enqueue = false, accept = false;
	bool syn_overflow = false, ack_overflow = false;
	bool ack_by_drop_reason = false;  // tier 3 kfree_skb reason (6.15+)
};

struct Tracer::Impl {
	TraceSkel skel;
	std::vector<LinkPtr> links;
	LinkPtr iter_link;
	RingBufPtr rb;
	EventFn on_event;
	std::string event_error;
	TierCoverage coverage;
	std::vector<std::string> skipped;  // tier-1 programs that did not attach, and why
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
	if (!c.enqueue)
		out.push_back("accept_queue_peak");
	out.push_back("syn_queue_peak");
	if (!c.syn_overflow)
		out.push_back("overflow_syn");
	if (!c.ack_overflow && !c.ack_by_drop_reason)
		out.push_back("overflow_ack");
	if (!c.enqueue)
		out.push_back("depth_hist");
	return out;
}

namespace {

// Tier-1 programs and the kernel function each needs.
struct FentryProg {
	bpf_program *prog;
	const char *mechanism;
	const char *function;
};

std::vector<FentryProg> fentry_progs(trace_bpf *s)
{
	return {
		{s->progs.fx_listen_start, "fexit/inet_csk_listen_start", "inet_csk_listen_start"},
		{s->progs.fn_listen_stop, "fentry/inet_csk_listen_stop", "inet_csk_listen_stop"},
		{s->progs.fx_queue_add, "fexit/inet_csk_reqsk_queue_add", "inet_csk_reqsk_queue_add"},
		{s->progs.fx_hashdance, "fexit/inet_csk_complete_hashdance", "inet_csk_complete_hashdance"},
		{s->progs.fx_accept, "fexit/inet_csk_accept", "inet_csk_accept"},
		{s->progs.fn_conn_request, "fentry/tcp_conn_request", "tcp_conn_request"},
		{s->progs.fx_syn_recv_v4, "fexit/tcp_v4_syn_recv_sock", "tcp_v4_syn_recv_sock"},
		{s->progs.fx_syn_recv_v6, "fexit/tcp_v6_syn_recv_sock", "tcp_v6_syn_recv_sock"},
	};
}

Result<TraceSkel> open_skel(const TracerOptions &opts, bool tier1, const btf *vmlinux, bool drop_reason)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	if (!opts.btf_path.empty())
		oo.btf_custom_path = opts.btf_path.c_str();
	TraceSkel skel(trace_bpf__open_opts(&oo));
	if (!skel)
		return Error::from_errno(errno, "open BPF object trace_bpf");
	trace_bpf *s = skel.get();
	bpf_map__set_max_entries(s->maps.listeners, opts.max_listeners);
	bpf_map__set_max_entries(s->maps.epochs, opts.max_listeners);
	// ACK-path drops by reason exist from 6.15 (kfree_skb with rx_sk).
	bpf_program__set_autoload(s->progs.on_kfree_skb, drop_reason);
	for (const FentryProg &f : fentry_progs(s)) {
		bool exists = vmlinux && btf__find_by_name_kind(vmlinux, f.function, BTF_KIND_FUNC) >= 0;
		bpf_program__set_autoload(f.prog, tier1 && exists);
	}
	return skel;
}

}  // namespace

Result<std::unique_ptr<Tracer>> Tracer::start(const TracerOptions &opts, const KernelFeatures &features,
					      EventFn on_event)
{
	if (opts.attach == AttachMode::kprobe)
		return Error{EOPNOTSUPP, "--attach=kprobe: the kprobe handlers of the tracer are not implemented yet; "
					 "use --attach=auto, fentry or tracepoint"};
	if (!features.tp_btf.ok)
		return Error{EOPNOTSUPP, "tracing needs tp_btf: " + features.tp_btf.detail};
	if (!features.iter_tcp.ok)
		return Error{EOPNOTSUPP, "tracing needs iter/tcp: " + features.iter_tcp.detail};
	if (!features.ringbuf.ok)
		return Error{EOPNOTSUPP, "tracing needs a BPF ringbuf: " + features.ringbuf.detail};

	auto impl = std::make_unique<Impl>();
	impl->on_event = std::move(on_event);
	const bool drop_reason = features.kfree_skb_listen_overflow.ok;
	BtfPtr vmlinux(btf__load_vmlinux_btf());
	std::vector<std::string> attached;

	// Tier 1 first; a kernel that refuses trampolines fails the whole load
	// (a failed load cannot be retried on the same object: re-open).
	bool tier1 = opts.attach == AttachMode::automatic || opts.attach == AttachMode::fentry;
	std::string tier1_error;
	for (;;) {
		auto skel = open_skel(opts, tier1, vmlinux.get(), drop_reason);
		if (!skel)
			return skel.error();
		impl->skel = std::move(*skel);
		int err = trace_bpf__load(impl->skel.get());
		if (!err)
			break;
		if (opts.attach == AttachMode::fentry)
			return Error{EOPNOTSUPP, "--attach=fentry: the kernel refused the fentry/fexit programs (" +
							 std::string(std::strerror(-err)) + "; lockdown or policy?)"};
		if (!tier1)
			return Error::from_errno(-err, "load BPF object trace_bpf");
		tier1_error = "fentry/fexit: load: " + std::string(std::strerror(-err));
		tier1 = false;
	}
	trace_bpf *s = impl->skel.get();

	// Tier-1 programs one by one: a hook whose trampoline cannot attach (6.1:
	// 7-argument tcp_v4_syn_recv_sock, ENOTSUPP) falls back to tier 3 alone.
	std::map<bpf_program *, bool> ok;
	for (const FentryProg &f : fentry_progs(s)) {
		if (!bpf_program__autoload(f.prog))
			continue;
		LinkPtr l(bpf_program__attach(f.prog));
		if (!l) {
			int e = errno;
			if (opts.attach == AttachMode::fentry)
				return Error{EOPNOTSUPP, std::string("--attach=fentry: attach ") + f.mechanism + ": " +
								 errno_text(e)};
			impl->skipped.push_back(std::string(f.mechanism) + ": " + errno_text(e));
			continue;
		}
		impl->links.push_back(std::move(l));
		attached.emplace_back(f.mechanism);
		ok[f.prog] = true;
	}
	const bool v6_absent = !bpf_program__autoload(s->progs.fx_syn_recv_v6);
	TierCoverage &c = impl->coverage;
	c.listen = ok[s->progs.fx_listen_start] && ok[s->progs.fn_listen_stop];
	c.enqueue = ok[s->progs.fx_queue_add] && ok[s->progs.fx_hashdance];
	c.accept = ok[s->progs.fx_accept];
	c.syn_overflow = ok[s->progs.fn_conn_request];
	c.ack_overflow = ok[s->progs.fx_syn_recv_v4] && (ok[s->progs.fx_syn_recv_v6] || v6_absent);
	if (opts.attach == AttachMode::fentry &&
	    !(c.listen && c.enqueue && c.accept && c.syn_overflow && c.ack_overflow))
		return Error{EOPNOTSUPP, "--attach=fentry: not every hook has an fentry/fexit program on this kernel"};

	struct Attach {
		bpf_program *prog;
		const char *name;
		bool wanted;
	} tier3[] = {
		{s->progs.on_set_state, "tp_btf/inet_sock_set_state", !c.listen},
		// listen()'s requested backlog exists only at the syscall: always.
		{s->progs.on_sys_enter, "tp_btf/sys_enter", true},
		{s->progs.on_sys_exit, "tp_btf/sys_exit", true},
		{s->progs.on_retransmit_synack, "tp_btf/tcp_retransmit_synack", true},
		{s->progs.on_kfree_skb, "tp_btf/kfree_skb", drop_reason && !c.ack_overflow},
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
	impl->rb.reset(ring_buffer__new(bpf_map__fd(s->maps.events), on_ringbuf, impl.get(), nullptr));
	if (!impl->rb)
		return Error::from_errno(errno, "create ring buffer for map events");

	// Hand over to tier 1 only now that it is attached.
	s->bss->t1_listen = c.listen;
	s->bss->t1_enqueue = c.enqueue;
	s->bss->t1_accept = c.accept;
	s->bss->t1_syn_overflow = c.syn_overflow;
	s->bss->t1_ack_overflow = c.ack_overflow;
	c.ack_by_drop_reason = drop_reason && !c.ack_overflow;
	if (!tier1_error.empty())
		impl->skipped.push_back(tier1_error);

	std::unique_ptr<Tracer> t(new Tracer(std::move(impl)));
	t->attached_ = std::move(attached);
	return t;
}

std::string Tracer::tier() const
{
	const TierCoverage &c = impl_->coverage;
	const int n = c.listen + c.enqueue + c.accept + c.syn_overflow + c.ack_overflow;
	return n == 5 ? "fentry" : n == 0 ? "tracepoint" : "fentry+tracepoint";
}

bool Tracer::measures_waits() const { return impl_->coverage.enqueue && impl_->coverage.accept; }

const std::vector<std::string> &Tracer::skipped() const { return impl_->skipped; }

Result<void> Tracer::sample()
{
	UniqueFd it(bpf_iter_create(bpf_link__fd(impl_->iter_link.get())));
	if (!it.valid())
		return Error::from_errno(errno, "create iter/tcp sample_listeners");
	char buf[4096];
	for (;;) {
		ssize_t n = ::read(it.get(), buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return Error::from_errno(errno, "read iter/tcp sample_listeners");
		}
	}
	samples_++;
	return {};
}

Result<int> Tracer::poll(int timeout_ms)
{
	int n = ring_buffer__poll(impl_->rb.get(), timeout_ms);
	if (n < 0 && n != -EINTR)
		return Error::from_errno(-n, "poll ring buffer events");
	if (!impl_->event_error.empty())
		return Error{EPROTO, impl_->event_error};
	return n < 0 ? 0 : n;
}

Result<std::vector<ListenerStat>> Tracer::read_listeners() const
{
	std::vector<ListenerStat> out;
	int fd = bpf_map__fd(impl_->skel->maps.listeners);
	lq_listener_key key{}, next{};
	lq_listener_key *prev = nullptr;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		lq_listener_state st;
		if (bpf_map_lookup_elem(fd, &next, &st) == 0)
			out.push_back(listener_stat_from(next, st));
		key = next;
		prev = &key;
	}
	return out;
}

void Tracer::next_interval() { impl_->skel->bss->interval_epoch++; }

TracerStats Tracer::stats() const
{
	TracerStats s;
	s.samples = samples_;
	const int ncpu = libbpf_num_possible_cpus();
	std::vector<std::uint64_t> vals(static_cast<std::size_t>(ncpu > 0 ? ncpu : 1));
	int fd = bpf_map__fd(impl_->skel->maps.stats);
	for (std::uint32_t idx : {std::uint32_t{LQ_STAT_EVENTS_LOST}, std::uint32_t{LQ_STAT_UNTRACKED}}) {
		std::uint64_t sum = 0;
		if (bpf_map_lookup_elem(fd, &idx, vals.data()) == 0)
			for (auto v : vals)
				sum += v;
		(idx == LQ_STAT_EVENTS_LOST ? s.events_lost : s.untracked) = sum;
	}
	return s;
}

}  // namespace listenq
