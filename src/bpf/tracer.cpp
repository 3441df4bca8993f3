#include "bpf/tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

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
struct Tracer::Impl {
	TraceSkel skel;
	std::vector<LinkPtr> links;
	LinkPtr iter_link;
	RingBufPtr rb;
	EventFn on_event;
	std::string event_error;
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
	return {"accept_queue_peak", "syn_queue_peak", "overflow_syn", "depth_hist"};
}

Result<std::unique_ptr<Tracer>> Tracer::start(const TracerOptions &opts, const KernelFeatures &features,
					      EventFn on_event)
{
	if (opts.attach == AttachMode::fentry || opts.attach == AttachMode::kprobe)
		return Error{EOPNOTSUPP, "--attach=" + std::string(attach_mode_name(opts.attach)) +
						 ": this build traces with tier 3 (tracepoints) only; the fentry and "
						 "kprobe handlers are not implemented yet"};
	if (!features.tp_btf.ok)
		return Error{EOPNOTSUPP, "tracing needs tp_btf: " + features.tp_btf.detail};
	if (!features.iter_tcp.ok)
		return Error{EOPNOTSUPP, "tracing needs iter/tcp: " + features.iter_tcp.detail};
	if (!features.ringbuf.ok)
		return Error{EOPNOTSUPP, "tracing needs a BPF ringbuf: " + features.ringbuf.detail};

	auto impl = std::make_unique<Impl>();
	impl->on_event = std::move(on_event);
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	if (!opts.btf_path.empty())
		oo.btf_custom_path = opts.btf_path.c_str();
	impl->skel.reset(trace_bpf__open_opts(&oo));
	if (!impl->skel)
		return Error::from_errno(errno, "open BPF object trace_bpf");
	trace_bpf *s = impl->skel.get();
	bpf_map__set_max_entries(s->maps.listeners, opts.max_listeners);
	bpf_map__set_max_entries(s->maps.epochs, opts.max_listeners);
	// ACK-path drops by reason exist from 6.15 (kfree_skb with rx_sk).
	const bool drop_reason = features.kfree_skb_listen_overflow.ok;
	bpf_program__set_autoload(s->progs.on_kfree_skb, drop_reason);
	if (int err = trace_bpf__load(s))
		return Error::from_errno(-err, "load BPF object trace_bpf");

	struct Attach {
		bpf_program *prog;
		const char *name;
		bool wanted;
	} attach[] = {
		{s->progs.on_set_state, "tp_btf/inet_sock_set_state", true},
		{s->progs.on_sys_enter, "tp_btf/sys_enter", true},
		{s->progs.on_sys_exit, "tp_btf/sys_exit", true},
		{s->progs.on_retransmit_synack, "tp_btf/tcp_retransmit_synack", true},
		{s->progs.on_kfree_skb, "tp_btf/kfree_skb", drop_reason},
	};
	std::vector<std::string> attached;
	for (const auto &a : attach) {
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

	std::unique_ptr<Tracer> t(new Tracer(std::move(impl)));
	t->attached_ = std::move(attached);
	return t;
}

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
