#include "tracing/tracer.h"

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_set>

#include "bpf/trace_decode.h"
#include "bpf/trace_program.h"
#include "sources/kernel_info.h"
#include "sources/netns.h"
#include "sources/proc_net.h"
#include "sources/proc_owners.h"
#include "tracing/sampler.h"

namespace listenq {

// Member order: the sampler refers to the program.
struct Tracer::Impl {
	std::unique_ptr<TraceProgram> prog;
	std::optional<Sampler> sampler;
	EventFn on_event;
	std::string event_error;
	std::optional<SynAttributor> synq;  // the SYN path is not hooked
	// Owners of seeded listeners (listen() not seen), found once in /proc
	// by socket inode; pid 0 when no process holds it.
	std::map<std::uint64_t, ProcessRef> seeded_owners;  // by ListenerStat::key
};

Tracer::Tracer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tracer::~Tracer() = default;

Result<std::unique_ptr<Tracer>> Tracer::start(const TracerOptions &opts, const KernelFeatures &features,
					      EventFn on_event)
{
	auto impl = std::make_unique<Impl>();
	impl->on_event = std::move(on_event);
	Impl *raw = impl.get();
	TraceProgramOptions po{opts.btf_path, opts.max_listeners, opts.ringbuf_bytes};
	auto prog = TraceProgram::start(po, features, make_plan(features, opts.attach, opts.refuse, opts.syscalls),
					[raw](std::span<const std::uint8_t> bytes) {
						auto ev = decode_event(bytes, raw->prog && raw->prog->plan().ptr_keys);
						if (!ev)
							raw->event_error = ev.error().message;
						else if (raw->on_event)
							raw->on_event(*ev);
					});
	if (!prog)
		return prog.error();
	impl->prog = std::move(*prog);
	impl->sampler.emplace(*impl->prog);
	const FieldSources &fields = impl->prog->plan().fields;
	if (fields.of(TraceField::overflow_syn) == Provenance::netns_counters)
		impl->synq.emplace(fields.of(TraceField::overflow_ack) == Provenance::exact);
	return std::unique_ptr<Tracer>(new Tracer(std::move(impl)));
}

const Plan &Tracer::plan() const { return impl_->prog->plan(); }
const std::vector<std::string> &Tracer::attached() const { return impl_->prog->attached(); }

Result<void> Tracer::sample()
{
	const bool first = !impl_->sampler->samples;
	std::map<std::uint32_t, ListenCounters> start;
	if (auto r = impl_->sampler->sample(first && impl_->synq ? &start : nullptr); !r)
		return r;
	if (first && impl_->synq) {
		impl_->synq->set_start(start);
		// Raw counts of the first sample are the listeners' baselines.
		if (auto r = read_listeners(); !r)
			return r.error();
	}
	return {};
}

Result<int> Tracer::poll(int timeout_ms, int wake_fd)
{
	auto n = impl_->prog->poll(timeout_ms, wake_fd);
	if (!n)
		return n;
	if (!impl_->event_error.empty())
		return Error{EPROTO, impl_->event_error};
	return n;
}

namespace {

// TcpExt of the netns with this inode (nullopt: it cannot be read, e.g.
// gone): our own directly, another by entering it. An error only when
// this thread could not come back to its own netns.
Result<std::optional<ListenCounters>> netns_counters(std::uint32_t inode, Sampler &sampler)
{
	auto read_here = []() { return read_listen_counters("/proc/thread-self"); };
	if (inode == current_netns_inode()) {
		auto c = read_here();
		return c ? std::optional<ListenCounters>(*c) : std::nullopt;
	}
	for (bool relist : {false, true}) {
		auto path = sampler.netns_path(inode, relist);
		if (!path)
			break;
		std::optional<ListenCounters> out;
		auto r = in_netns(*path, [&]() -> Result<void> {
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
		if (auto it = cache.find(s.key); it != cache.end())
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
			kept[s.key] = owner;
		}
	}
	cache = std::move(kept);
	for (ListenerStat &s : stats) {
		if (s.owner_pid)
			continue;
		if (auto it = cache.find(s.key); it != cache.end()) {
			s.owner_pid = static_cast<std::uint32_t>(it->second.pid);
			s.owner_comm = it->second.comm;
		}
	}
}

}  // namespace

Result<std::vector<ListenerStat>> Tracer::read_listeners()
{
	std::vector<ListenerStat> out;
	impl_->prog->each_listener(
		[&](const lq_listener_key &k, const lq_listener_state &st) { out.push_back(listener_stat_from(k, st, impl_->prog->plan().ptr_keys)); });
	fill_seeded_owners(out, impl_->seeded_owners);
	if (impl_->synq) {
		std::map<std::uint32_t, ListenCounters> mibs;
		for (const ListenerStat &l : out)
			if (!mibs.count(l.id.netns)) {
				auto c = netns_counters(l.id.netns, *impl_->sampler);
				if (!c)
					return c.error();
				if (*c)
					mibs[l.id.netns] = **c;
			}
		impl_->synq->apply(out, mibs);
	}
	return out;
}

std::vector<Unattributed> Tracer::unattributed() const
{
	return impl_->synq ? impl_->synq->unattributed() : std::vector<Unattributed>{};
}

void Tracer::next_interval() { impl_->prog->next_interval(); }

TracerStats Tracer::stats() const
{
	const Sampler &s = *impl_->sampler;
	TracerStats t;
	t.samples = s.samples;
	t.netns_seeded = s.netns_seeded;
	t.netns_unseeded = s.netns_unseeded;
	t.untracked = s.untracked;
	t.stale_removed = s.stale_removed;
	t.last_sample_passes = s.last_passes;
	t.last_sample_us = s.last_us;
	t.events_lost = impl_->prog->events_lost();
	return t;
}

}  // namespace listenq
