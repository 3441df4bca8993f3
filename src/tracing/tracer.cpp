#include "tracing/tracer.h"

#include "util/clock.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <unordered_map>
#include <optional>
#include <set>
#include <unordered_set>

#include "bpf/trace_decode.h"
#include "bpf/trace_program.h"
#include "sources/cgroup.h"
#include "sources/kernel_info.h"
#include "sources/netns.h"
#include "sources/proc_net.h"
#include "sources/proc_owners.h"
#include "tracing/listener_table.h"
#include "tracing/sampler.h"
#include "util/unique_fd.h"

namespace listenq {

// /proc/net/netstat of each netns with listeners, kept open: a read is a
// pread from 0 (the seq file writes its text again), with no setns, open
// or close each interval (a third of watch's CPU at 100 netns). An open
// file pins its netns, so a file no read_listeners() pass used is closed
// at the end of that pass: no netns outlives its listeners by more. At
// most kMaxOpen files are kept (a soft limit of 1024 open files is common);
// a netns beyond them is read as before, entered each time.
class NetstatFiles {
public:
	// nullopt: the netns cannot be entered (gone) or its file not read.
	Result<std::optional<ListenCounters>> read(std::uint32_t inode, Sampler &sampler);
	void close_unused();

private:
	static constexpr std::size_t kMaxOpen = 256;
	struct File {
		UniqueFd fd;
		bool used = false;
	};
	std::unordered_map<std::uint32_t, File> files_;
	std::string text_;
};

// Member order: the sampler refers to the program.
struct Tracer::Impl {
	std::unique_ptr<TraceProgram> prog;
	std::optional<Sampler> sampler;
	EventFn on_event;
	std::string event_error;
	std::optional<SynAttributor> synq;  // the SYN path is not hooked
	std::uint64_t last_sample_ns = 0;
	// The one user-space copy of the listeners, updated in place by
	// read_listeners(). Owners of seeded listeners (listen() not seen) are
	// looked up in /proc once and kept there (pid 0: no process holds it).
	ListenerTable table;
	// The owners' cgroups the listeners point to (ListenerStat::cgroup).
	CgroupCache cgroups;
	NetstatFiles netstat;
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
	impl_->last_sample_ns = monotonic_ns();
	if (first && impl_->synq) {
		impl_->synq->set_start(start);
		// Raw counts of the first sample are the listeners' baselines.
		if (auto r = read_listeners(); !r)
			return r.error();
	}
	return {};
}

void Tracer::drain_events() { impl_->prog->drain(); }

std::uint64_t Tracer::last_sample_ns() const { return impl_->last_sample_ns; }

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

// Whether a closed listener's final state is the listener read live in
// the same read (it closed in between), not a new one under its key. A
// cookie is never reused; a socket pointer is, and then the inode differs.
bool same_listener_read_live(const ListenerStat &live, const lq_listener_key &k, const lq_listener_state &st,
			     bool ptr_keys)
{
	if (live.id.netns != k.netns)
		return false;
	return !ptr_keys || (st.sock_ino && live.id.inode == st.sock_ino);
}

// Runs fn in the netns with this inode: our own directly, another by
// entering it through the sampler's path (listed again once if that path
// is gone). false: it cannot be entered (gone). An error only when this
// thread could not come back to its own netns.
Result<bool> run_in_netns(std::uint32_t inode, Sampler &sampler, const std::function<void()> &fn)
{
	if (inode == current_netns_inode()) {
		fn();
		return true;
	}
	for (bool relist : {false, true}) {
		auto path = sampler.netns_path(inode, relist);
		if (!path)
			break;
		bool ran = false;
		auto r = in_netns(*path, [&]() -> Result<void> {
			fn();
			ran = true;
			return {};
		});
		if (!r && r.error().err == ENOTRECOVERABLE)
			return r.error();
		if (ran)
			return true;
	}
	return false;
}

// TcpExt of the netns with this inode (nullopt: it cannot be read, e.g.
// gone).
Result<std::optional<ListenCounters>> netns_counters(std::uint32_t inode, Sampler &sampler)
{
	std::optional<ListenCounters> out;
	auto r = run_in_netns(inode, sampler, [&]() {
		if (auto c = read_listen_counters("/proc/thread-self"))
			out = *c;
	});
	if (!r)
		return r.error();
	return out;
}

}  // namespace

Result<std::optional<ListenCounters>> NetstatFiles::read(std::uint32_t inode, Sampler &sampler)
{
	auto it = files_.find(inode);
	if (it == files_.end() && files_.size() >= kMaxOpen)
		return listenq::netns_counters(inode, sampler);
	if (it == files_.end()) {
		int fd = -1;
		auto r = run_in_netns(inode, sampler, [&]() { fd = ::open("/proc/thread-self/net/netstat", O_RDONLY | O_CLOEXEC); });
		if (!r)
			return r.error();
		if (fd < 0)
			return std::optional<ListenCounters>{};
		it = files_.emplace(inode, File{UniqueFd(fd)}).first;
	}
	it->second.used = true;
	text_.resize(std::max<std::size_t>(text_.size(), 16384));
	std::size_t len = 0;
	for (;;) {
		if (len == text_.size())
			text_.resize(2 * text_.size());
		const ssize_t n = ::pread(it->second.fd.get(), text_.data() + len, text_.size() - len, static_cast<off_t>(len));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0) {
				files_.erase(it);
				return std::optional<ListenCounters>{};
			}
			break;
		}
		len += static_cast<std::size_t>(n);
	}
	auto c = parse_listen_counters(std::string_view(text_.data(), len));
	return c ? std::optional<ListenCounters>(*c) : std::nullopt;
}

void NetstatFiles::close_unused()
{
	std::erase_if(files_, [](const auto &kv) { return !kv.second.used; });
	for (auto &[inode, f] : files_)
		f.used = false;
}

namespace {

// A seeded listener's owner is the lowest pid holding its socket (a
// pre-forking server's parent), looked up once per listener: the /proc
// scan runs only when listeners not looked up yet appear. What it keeps:
// the inodes wanted, sorted, with their entries.
void fill_seeded_owners(ListenerTable &table)
{
	std::deque<ListenerStat> &stats = table.all();
	std::vector<std::pair<std::uint64_t, std::uint32_t>> wanted;  // inode, entry
	for (std::size_t i = 0; i < stats.size(); i++)
		if (!stats[i].owner_pid && stats[i].id.inode && !table.owner_looked_up(i))
			wanted.emplace_back(stats[i].id.inode, static_cast<std::uint32_t>(i));
	if (wanted.empty())
		return;
	std::sort(wanted.begin(), wanted.end());
	auto find = [&](std::uint64_t ino) {
		return std::equal_range(wanted.begin(), wanted.end(), std::pair<std::uint64_t, std::uint32_t>{ino, 0},
					[](const auto &a, const auto &b) { return a.first < b.first; });
	};
	each_socket_fd([&](std::uint64_t ino) { auto r = find(ino); return r.first != r.second; },
		       [&](std::uint64_t ino, const ProcessRef &who) {
			       for (auto [it, end] = find(ino); it != end; ++it) {
				       ListenerStat &s = stats[it->second];
				       if (!s.owner_pid || static_cast<std::uint32_t>(who.pid) < s.owner_pid) {
					       s.owner_pid = static_cast<std::uint32_t>(who.pid);
					       s.owner_comm = who.comm;
				       }
			       }
		       });
	for (const auto &[ino, i] : wanted)
		table.set_owner_looked_up(i);
}

// Each listener's owner's cgroup, read when the listener is first seen
// with an owner (or its owner changed): one read per pid and pass,
// whatever the number of its listeners, and none in a pass without new
// listeners. Cgroups no listener points to any more are dropped now and
// then (a container's churn would otherwise grow the cache).
void fill_owner_cgroups(std::deque<ListenerStat> &stats, CgroupCache &cache)
{
	for (ListenerStat &s : stats)
		if (s.owner_pid && !s.cgroup)
			s.cgroup = cache.of_pid(s.owner_pid).get();
	cache.end_pass();
	if (!cache.sweep_due())
		return;
	std::unordered_set<const CgroupInfo *> in_use;
	for (const ListenerStat &s : stats)
		if (s.cgroup)
			in_use.insert(s.cgroup);
	cache.keep_only(in_use);
}

}  // namespace

// Streams the map into the table: an entry is updated where it is, a new
// listener added, a gone one dropped.
// Long: one read of the map: netns counters, busy pass, live and closed listeners, owners, SYN attribution, in this order.
Result<void> Tracer::read_listeners(HistKinds hists)
{
	ListenerTable &table = impl_->table;
	const bool ptr_keys = impl_->prog->plan().ptr_keys;
	// The netns counters before the map: where the SYN path's rose, the
	// busy pass reads every listener first, so that the ones under SYN
	// pressure show (their full SYN queue; no tier-3 hook sees a SYN).
	std::map<std::uint32_t, ListenCounters> mibs;
	std::set<std::uint32_t> tried;
	auto read_mibs = [&]() -> Result<void> {
		for (const ListenerStat &l : table.all())
			if (tried.insert(l.id.netns).second) {
				auto c = impl_->netstat.read(l.id.netns, *impl_->sampler);
				if (!c)
					return c.error();
				if (*c)
					mibs[l.id.netns] = **c;
			}
		return {};
	};
	if (impl_->synq) {
		if (auto r = read_mibs(); !r)
			return r;
		if (impl_->prog->can_run(PassKind::busy) && impl_->synq->rose(mibs))
			if (auto r = impl_->prog->run_busy_pass(true); !r)
				Sampler::busy_pass_stopped(r.error());
	}
	const bool busy = impl_->prog->can_run(PassKind::busy);
	const bool depth_at_samples = hists.depth && !(impl_->prog->plan().exact_mask() & LQ_EXACT_ENQUEUE);
	table.begin();
	auto absorb = [&](std::uint64_t key, const lq_listener_key &k, const lq_listener_state &st, bool closed) {
		bool added;
		ListenerStat &s = table.at(key, &added);
		// A seeded listener's owner looked up before (the map has none).
		const bool keep_owner = !added && !st.owner_tgid;
		const std::uint32_t pid = s.owner_pid;
		std::string comm;
		if (keep_owner)
			comm.swap(s.owner_comm);
		update_listener_stat(s, k, st, ptr_keys, hists);
		if (busy && !closed)
			add_unread_samples(s, st, impl_->prog->sample_tick(), depth_at_samples);
		s.key = key;
		s.closed = closed;
		if (keep_owner) {
			s.owner_pid = pid;
			s.owner_comm.swap(comm);
		}
		if (s.owner_pid != pid)
			s.cgroup = nullptr;  // a new owner: read its cgroup
	};
	impl_->prog->each_listener(
		[&](const lq_listener_key &k, const lq_listener_state &st) { absorb(k.cookie, k, st, false); });
	// Listeners closed since the last read, once, with their final counts:
	// the last interval of a listener that closed between two reads. One
	// that closed during this read was read live above too: its final
	// state replaces that read (same key, so its interval is counted once;
	// the 6.1 guest counted its accepts twice). A socket pointer (ptr_keys)
	// can be a new listener's key already (another inode): the closed one
	// then takes a key of its own, and its whole count is that interval's
	// (no base).
	impl_->prog->take_closed([&](const lq_listener_key &k, const lq_listener_state &st) {
		if (!st.family)
			return;
		std::uint64_t key = k.cookie;
		if (table.seen(key) && !same_listener_read_live(table.at(key), k, st, ptr_keys))
			key ^= 1ULL << 63;
		if (table.seen(key) && key != k.cookie)
			return;
		absorb(key, k, st, true);
	});
	table.end();
	fill_seeded_owners(table);
	fill_owner_cgroups(table.all(), impl_->cgroups);
	if (impl_->synq) {
		if (auto r = read_mibs(); !r)  // the netns new in this read
			return r;
		impl_->synq->apply(table.all(), mibs);
		impl_->netstat.close_unused();
	}
	return {};
}

Result<bool> Tracer::in_netns_of(std::uint32_t netns, const std::function<void()> &fn)
{
	return run_in_netns(netns, *impl_->sampler, fn);
}

Result<std::optional<ListenCounters>> Tracer::netns_counters(std::uint32_t netns)
{
	return impl_->netstat.read(netns, *impl_->sampler);
}

const std::deque<ListenerStat> &Tracer::listeners() const { return impl_->table.all(); }

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
	t.closed_lost = impl_->prog->stat(LQ_STAT_CLOSED_LOST);
	t.last_sample_passes = s.last_passes;
	t.last_sample_us = s.last_us;
	t.events_lost = impl_->prog->events_lost();
	t.events_late = impl_->prog->events_late();
	t.hook_runs_missed = impl_->prog->recursion_misses();
	return t;
}

}  // namespace listenq
