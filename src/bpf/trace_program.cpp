#include "bpf/trace_program.h"

#include <fcntl.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "bpf/libbpf_log.h"
#include "bpf/libbpf_raii.h"
#include "sources/tracefs.h"
#include "bpf/trace_object.h"
#include "util/clock.h"
#include "util/files.h"
#include "util/unique_fd.h"

namespace listenq {

// Member order is teardown order, reversed: the readers and links go
// before the skeleton that owns their maps and programs.
struct TraceProgram::Impl {
	std::optional<TraceObject> skel;
	std::set<std::string> loaded;  // programs the skeleton loaded
	std::vector<LinkPtr> links;
	std::vector<int> hook_fds;  // the attached non-iterator programs (owned by the object)
	std::map<PassKind, LinkPtr> iters;
	std::map<PassKind, std::string> iter_names;  // "iter/task_file sample_files_raw"
	bool walk = false;  // the kprobe walk serves PassKind::tcp (no iter/tcp)
	int busy_fd = -1;   // sample_busy (owned by the object), -1: not planned or off
	std::uint32_t tick = 0;  // TraceObject::next_sample_tick
	bool no_batch = false;  // the kernel has no batch lookup for hash maps (before 5.6)
	RingBufPtr rb;
	PerfBufPtr pb;
	Plan plan;
	std::vector<std::string> attached;
	EventFn on_event;
	std::uint64_t perf_lost = 0;
	// Perf buffer: one ring per CPU, read ring by ring, so a record of one
	// CPU can reach us a read later than a newer one of another CPU (it
	// was stamped before we read its ring and written after). Records wait
	// kPerfReorderNs after their stamp, in a min-heap, and are handed over
	// in time order; one older than a record already handed over (a CPU
	// held up longer than the window) is handed over at once and counted
	// in perf_late. The ringbuf keeps that order itself.
	static constexpr std::uint64_t kPerfReorderNs = 50'000'000;
	std::vector<std::vector<std::uint8_t>> perf_batch, perf_pending;
	std::uint64_t perf_released_ts = 0, perf_late = 0;
	static std::uint64_t ts_of(const std::vector<std::uint8_t> &e)
	{
		std::uint64_t t = 0;
		std::memcpy(&t, e.data(), std::min(e.size(), sizeof(t)));
		return t;
	}
	// Hands over the records older than the window; all: every one.
	void release_perf(bool all)
	{
		auto later = [](const auto &a, const auto &b) { return ts_of(a) > ts_of(b); };
		for (auto &e : perf_batch) {
			perf_pending.push_back(std::move(e));
			std::push_heap(perf_pending.begin(), perf_pending.end(), later);
		}
		perf_batch.clear();
		const std::uint64_t now = monotonic_ns();
		while (!perf_pending.empty()) {
			const std::uint64_t t = ts_of(perf_pending.front());
			if (!all && t + kPerfReorderNs > now)
				break;
			std::pop_heap(perf_pending.begin(), perf_pending.end(), later);
			std::vector<std::uint8_t> e = std::move(perf_pending.back());
			perf_pending.pop_back();
			if (t < perf_released_ts)
				perf_late++;
			else
				perf_released_ts = t;
			if (on_event)
				on_event(e);
		}
	}
};

namespace {

// The verifier's reason in prog's load log: its last line but the
// statistics ("unknown func bpf_get_socket_cookie#46", "invalid func
// unknown#184"); empty when there is none (a refusal before the verifier).
std::string verifier_verdict(const std::string &log, const std::string &prog)
{
	const std::string begin = "prog '" + prog + "': -- BEGIN PROG LOAD LOG --\n";
	std::size_t b = log.rfind(begin);
	if (b == std::string::npos)
		return {};
	b += begin.size();
	std::size_t e = log.find("-- END PROG LOAD LOG --", b);
	std::istringstream in(log.substr(b, e == std::string::npos ? std::string::npos : e - b));
	std::string verdict;
	for (std::string line; std::getline(in, line);)
		if (!line.empty() && line.rfind("processed ", 0) != 0 && line.rfind("verification time", 0) != 0 &&
		    line.rfind("stack depth", 0) != 0 && line != "...")
			verdict = line;
	return verdict;
}

}  // namespace

std::optional<Refusal> refusal_from_libbpf_log(const std::string &log, int err)
{
	static const std::regex prog(R"(prog '([A-Za-z0-9_]+)': (?:BPF program load failed: ([^\n]*)|failed to load))");
	std::optional<Refusal> out;
	// The last program named is the one that failed.
	for (auto it = std::sregex_iterator(log.begin(), log.end(), prog); it != std::sregex_iterator(); ++it)
		out = Refusal{(*it)[1].str(), err, "load", false, (*it)[2].str()};
	if (out) {
		if (std::string v = verifier_verdict(log, out->what); !v.empty())
			out->detail = v;
		return out;
	}
	// The maps the tracer can do without, as their map kind.
	if (auto m = failed_map_in_libbpf_log(log)) {
		if (m->first == "events")
			return Refusal{"ringbuf", err, "load", false, m->second};
		if (m->first == "tracked" || m->first == "parents")
			return Refusal{"sk_storage", err, "load", false, m->second};
	}
	return std::nullopt;
}

std::optional<std::pair<std::string, std::string>> failed_map_in_libbpf_log(const std::string &log)
{
	static const std::regex map(R"(map '([A-Za-z0-9_.]+)': failed to create: ([^\n(]*))");
	std::smatch m;
	if (!std::regex_search(log, m, map))
		return std::nullopt;
	return std::pair{m[1].str(), m[2].str()};
}

namespace {

std::uint32_t lq_config_of(const Plan &p)
{
	return (p.perf_buffer ? LQ_CFG_PERF_BUFFER : 0) | (p.sk_storage ? 0 : LQ_CFG_NO_SK_STORAGE) |
	       (p.ptr_keys ? LQ_CFG_PTR_KEYS : 0) |
	       (p.program("sample_busy").state == ProgState::attach ? LQ_CFG_BUSY_PASS : 0);
}

// Opens the object with only these programs on, the maps of the plan.
Result<TraceObject> open_configured(const TraceProgramOptions &o, const Plan &plan, const std::set<std::string> &progs)
{
	auto t = TraceObject::open(o.btf_path, plan.legacy);
	if (!t)
		return t.error();
	bpf_map__set_max_entries(t->map("listeners"), o.max_listeners);
	bpf_map__set_max_entries(t->map("epochs"), o.max_listeners);
	// A refused map kind becomes a placeholder the pruned code never uses.
	bpf_map *events = t->map("events");
	if (plan.perf_buffer) {
		bpf_map__set_type(events, BPF_MAP_TYPE_ARRAY);
		bpf_map__set_key_size(events, 4);
		bpf_map__set_value_size(events, 4);
		bpf_map__set_max_entries(events, 1);
	} else {
		bpf_map__set_max_entries(events, o.ringbuf_bytes);
	}
	if (!plan.sk_storage) {
		for (const char *name : {"tracked", "parents"}) {
			bpf_map__set_type(t->map(name), BPF_MAP_TYPE_HASH);
			bpf_map__set_map_flags(t->map(name), BPF_F_NO_PREALLOC);
			bpf_map__set_max_entries(t->map(name), 1);
		}
	}
	if (auto r = t->configure(lq_config_of(plan), static_cast<std::uint32_t>(::getpid())); !r)
		return r.error();
	bpf_program *p;
	bpf_object__for_each_program(p, t->obj()) bpf_program__set_autoload(p, progs.count(bpf_program__name(p)) > 0);
	return t;
}

std::set<std::string> programs_to_load(const Plan &plan)
{
	std::set<std::string> out;
	for (const ProgramPlan &p : plan.programs)
		if (p.state != ProgState::off)
			out.emplace(p.name);
	return out;
}

// The kernel's verdict on loading these programs: nullopt when it loads.
struct LoadTry {
	std::optional<TraceObject> skel;
	int err = 0;
	std::string log;
};

Result<LoadTry> try_once(const TraceProgramOptions &o, const Plan &plan, const std::set<std::string> &progs)
{
	auto skel = open_configured(o, plan, progs);
	if (!skel)
		return skel.error();
	clear_libbpf_log();
	LoadTry t;
	t.err = skel->load();
	t.log = libbpf_recent_log();
	if (!t.err)
		t.skel = std::move(*skel);
	return t;
}

}  // namespace

Result<std::optional<std::string>> find_refused_by_bisection(std::set<std::string> progs, const LoadTrial &load)
{
	while (progs.size() > 1) {
		std::set<std::string> half;
		auto it = progs.begin();
		for (std::size_t i = 0; i < progs.size() / 2; i++, ++it)
			half.insert(*it);
		auto err = load(half);
		if (!err)
			return err.error();
		if (*err)
			progs = std::move(half);
		else
			progs = std::set<std::string>(it, progs.end());
	}
	if (progs.empty())
		return std::optional<std::string>{};
	// The last half was taken untried when its other half loaded: it must
	// fail alone, or the failure is no single program's (e.g. a limit of
	// the whole object).
	auto alone = load(progs);
	if (!alone)
		return alone.error();
	return *alone ? std::optional<std::string>{*progs.begin()} : std::nullopt;
}

namespace {

// Loads the plan's programs; a program (or map kind) the kernel refuses is
// planned out and the object re-opened, until the kernel takes it all.
Result<TraceObject> load_plan(const TraceProgramOptions &o, const KernelFeatures &f, Plan &plan,
			    std::set<std::string> &loaded)
{
	for (;;) {
		if (plan.fatal)
			return *plan.fatal;
		const std::set<std::string> progs = programs_to_load(plan);
		auto t = try_once(o, plan, progs);
		if (!t)
			return t.error();
		if (!t->err) {
			loaded = progs;
			return std::move(*t->skel);
		}
		const int err = -t->err;
		std::optional<Refusal> r = refusal_from_libbpf_log(t->log, err);
		if (auto m = failed_map_in_libbpf_log(t->log); m && !r)  // a map it cannot do without
			return Error{err, std::string("load BPF object ") + (plan.legacy ? "trace_legacy_bpf" : "trace_bpf") + ": map " + m->first + ": " + m->second +
						  errno_text(err)};
		if (!r) {
			auto b = find_refused_by_bisection(progs, [&](const std::set<std::string> &some) -> Result<int> {
				auto t = try_once(o, plan, some);
				if (!t)
					return t.error();
				return -t->err;
			});
			if (!b)
				return b.error();
			if (*b)
				r = Refusal{**b, err, "load", false, "found by bisection"};
		}
		if (!r || std::any_of(plan.refusals.begin(), plan.refusals.end(),
				      [&](const Refusal &x) { return x.what == r->what; }))
			return Error{err, std::string("load BPF object ") + (plan.legacy ? "trace_legacy_bpf" : "trace_bpf") + ": " + errno_text(err)};
		std::vector<Refusal> refusals = plan.refusals;
		refusals.push_back(*r);
		plan = make_plan(f, plan.mode, refusals, plan.syscalls);
	}
}

// A classic tracepoint through perf_event_open: libbpf's own attach needs
// tracefs mounted, tracepoint_ids() does not.
bpf_link *attach_tracepoint(bpf_program *prog, const std::string &event)
{
	auto ids = tracepoint_ids({event});
	if (!ids || !ids->count(event)) {
		errno = ENOENT;
		return nullptr;
	}
	perf_event_attr attr{};
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.config = static_cast<__u64>(ids->at(event));
	int pfd = static_cast<int>(syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC));
	if (pfd < 0)
		return nullptr;
	bpf_link *l = bpf_program__attach_perf_event(prog, pfd);  // the link owns pfd
	if (!l) {
		int e = errno;
		::close(pfd);
		errno = e;
	}
	return l;
}

int on_ringbuf(void *ctx, void *data, size_t size)
{
	auto *impl = static_cast<TraceProgram::Impl *>(ctx);
	if (impl->on_event)
		impl->on_event({static_cast<const std::uint8_t *>(data), size});
	return 0;
}

// Perf records are padded to 8 bytes: the event is the front.
void on_perf(void *ctx, int, void *data, __u32 size)
{
	auto *impl = static_cast<TraceProgram::Impl *>(ctx);
	const std::size_t n = size >= sizeof(lq_event) ? sizeof(lq_event) : size;
	const auto *p = static_cast<const std::uint8_t *>(data);
	impl->perf_batch.emplace_back(p, p + n);
}

void on_perf_lost(void *ctx, int, __u64 n) { static_cast<TraceProgram::Impl *>(ctx)->perf_lost += n; }

PassKind pass_of(ProgKind k)
{
	return k == ProgKind::iter_sk_storage_map ? PassKind::tracked : k == ProgKind::iter_tcp ? PassKind::tcp : PassKind::files;
}

// Attaches every program the plan attaches; the first that fails is returned.
std::optional<Refusal> attach_plan(TraceProgram::Impl &impl)
{
	TraceObject &s = *impl.skel;
	impl.links.clear();
	impl.iters.clear();
	impl.iter_names.clear();
	impl.attached.clear();
	impl.hook_fds.clear();
	impl.walk = false;
	impl.busy_fd = -1;
	for (const ProgramPlan &pp : impl.plan.programs) {
		if (pp.state != ProgState::attach)
			continue;
		if (pp.name == "sample_busy") {  // never attached: run by BPF_PROG_TEST_RUN
			bpf_program *prog = bpf_object__find_program_by_name(s.obj(), "sample_busy");
			if (!prog || bpf_program__fd(prog) < 0)
				return Refusal{"sample_busy", ENOENT, "attach", false, "not loaded"};
			impl.busy_fd = bpf_program__fd(prog);
			impl.attached.push_back("raw_tp sample_busy (test run)");
			continue;
		}
		// No IPv6: no tcp6_seq_show, and no /proc/net/tcp6 to walk.
		if (pp.name == "sample_walk6" && !path_exists("/proc/self/net/tcp6"))
			continue;
		const ProgramSpec *spec = find_program(pp.name);
		bpf_program *prog = bpf_object__find_program_by_name(s.obj(), std::string(pp.name).c_str());
		if (!spec || !prog)
			return Refusal{std::string(pp.name), ENOENT, "attach", false, "not in the object"};
		bpf_link *l = nullptr;
		switch (spec->kind) {
		case ProgKind::tracepoint: l = attach_tracepoint(prog, std::string(spec->target)); break;
		case ProgKind::iter_sk_storage_map: {
			union bpf_iter_link_info info = {};
			info.map.map_fd = static_cast<__u32>(bpf_map__fd(s.map("tracked")));
			LIBBPF_OPTS(bpf_iter_attach_opts, io, .link_info = &info, .link_info_len = sizeof(info));
			l = bpf_program__attach_iter(prog, &io);
			break;
		}
		case ProgKind::iter_tcp:
		case ProgKind::iter_task_file: l = bpf_program__attach_iter(prog, nullptr); break;
		default: l = bpf_program__attach(prog); break;
		}
		if (!l)
			return Refusal{std::string(pp.name), errno, "attach", false, {}};
		const bool iter = spec->kind == ProgKind::iter_tcp || spec->kind == ProgKind::iter_task_file ||
				  spec->kind == ProgKind::iter_sk_storage_map;
		if (iter) {
			impl.iters[pass_of(spec->kind)].reset(l);
			impl.iter_names[pass_of(spec->kind)] = spec->section() + " " + std::string(pp.name);
		} else {
			impl.links.emplace_back(l);
			impl.hook_fds.push_back(bpf_program__fd(prog));
		}
		impl.walk |= pp.name == "sample_walk4";
		impl.attached.push_back(spec->section());
	}
	return std::nullopt;
}

Result<void> make_reader(TraceProgram::Impl &impl, const TraceProgramOptions &o)
{
	const TraceObject &s = *impl.skel;
	if (!impl.plan.perf_buffer) {
		impl.rb.reset(ring_buffer__new(bpf_map__fd(s.map("events")), on_ringbuf, &impl, nullptr));
		if (!impl.rb)
			return Error::from_errno(errno, "create ring buffer for map events");
		return {};
	}
	// About the ringbuf's size, split over the CPUs (a power of 2 pages each).
	const int ncpu = std::max(1, libbpf_num_possible_cpus());
	std::size_t pages = 8;
	while (pages * 2 * 4096 * static_cast<std::size_t>(ncpu) <= o.ringbuf_bytes && pages < 1024)
		pages *= 2;
	impl.pb.reset(perf_buffer__new(bpf_map__fd(s.map("perf_events")), pages, on_perf, on_perf_lost, &impl, nullptr));
	if (!impl.pb)
		return Error::from_errno(errno, "create perf buffer for map perf_events");
	return {};
}

}  // namespace

TraceProgram::TraceProgram(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TraceProgram::~TraceProgram() = default;

Result<Plan> TraceProgram::try_load(const TraceProgramOptions &opts, const KernelFeatures &f, Plan plan)
{
	std::set<std::string> loaded;
	auto skel = load_plan(opts, f, plan, loaded);
	if (!skel && !plan.fatal)
		return skel.error();
	return plan;  // with what the kernel refused (and plan.fatal if nothing is left)
}

Result<std::unique_ptr<TraceProgram>> TraceProgram::start(const TraceProgramOptions &opts, const KernelFeatures &f,
							  Plan plan, EventFn on_event)
{
	auto impl = std::make_unique<Impl>();
	impl->on_event = std::move(on_event);
	for (;;) {
		const std::set<std::string> want = programs_to_load(plan);
		if (!impl->skel || !std::includes(impl->loaded.begin(), impl->loaded.end(), want.begin(), want.end())) {
			impl->links.clear();
			impl->iters.clear();
			impl->skel.reset();
			auto skel = load_plan(opts, f, plan, impl->loaded);
			if (!skel)
				return skel.error();
			impl->skel.emplace(std::move(*skel));
		}
		impl->plan = plan;
		// Attach failures: plan again without that program (a standby twin
		// is loaded already; anything else means loading again).
		std::optional<Refusal> failed = attach_plan(*impl);
		if (!failed)
			break;
		std::vector<Refusal> refusals = plan.refusals;
		refusals.push_back(*failed);
		plan = make_plan(f, plan.mode, refusals, plan.syscalls);
		if (plan.fatal)
			return *plan.fatal;
	}
	if (auto r = make_reader(*impl, opts); !r)
		return r.error();
	// Hand over to the exact hooks only now that everything is attached.
	impl->skel->set_exact_mask(impl->plan.exact_mask());
	return std::unique_ptr<TraceProgram>(new TraceProgram(std::move(impl)));
}

const Plan &TraceProgram::plan() const { return impl_->plan; }
const std::vector<std::string> &TraceProgram::attached() const { return impl_->attached; }
bool TraceProgram::can_run(PassKind k) const
{
	if (k == PassKind::busy)
		return impl_->busy_fd >= 0;
	return impl_->iters.count(k) > 0 || (k == PassKind::tcp && impl_->walk);
}

void TraceProgram::next_sample_tick() { impl_->tick = impl_->skel->next_sample_tick(); }
std::uint32_t TraceProgram::sample_tick() const { return impl_->tick; }

Result<void> TraceProgram::run_busy_pass(bool all)
{
	if (impl_->busy_fd < 0)
		return Error{ENOENT, "raw_tp sample_busy: not loaded"};
	impl_->skel->next_sample_pass();
	__u64 args[1] = {all ? 1ULL : 0ULL};
	LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = args, .ctx_size_in = sizeof(args));
	if (bpf_prog_test_run_opts(impl_->busy_fd, &run) != 0) {
		const int err = errno;
		impl_->busy_fd = -1;
		return Error::from_errno(err, "BPF_PROG_TEST_RUN raw_tp sample_busy");
	}
	return {};
}

namespace {

// A walk pass: the kernel shows this thread's netns's TCP sockets as
// /proc text, and sample_walk{4,6} sample its listeners on the way.
Result<void> walk_pass()
{
	char buf[16384];
	for (const char *path : {"/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"}) {
		UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
		if (!fd.valid()) {
			if (errno == ENOENT && std::string_view(path).ends_with("6"))
				continue;  // no IPv6
			return Error::from_errno(errno, std::string("kprobe walk: open ") + path);
		}
		for (;;) {
			ssize_t n = ::read(fd.get(), buf, sizeof(buf));
			if (n == 0)
				break;
			if (n < 0 && errno != EINTR)
				return Error::from_errno(errno, std::string("kprobe walk: read ") + path);
		}
	}
	return {};
}

}  // namespace

Result<void> TraceProgram::run_pass(PassKind k)
{
	if (k == PassKind::busy)
		return run_busy_pass(false);
	auto it = impl_->iters.find(k);
	const auto named = impl_->iter_names.find(k);
	const std::string what = named != impl_->iter_names.end() ? named->second
				 : k == PassKind::tracked      ? "iter/bpf_sk_storage_map sample_tracked"
				 : k == PassKind::tcp          ? "iter/tcp sample_listeners"
							       : "iter/task_file sample_files";
	if (it == impl_->iters.end() && k == PassKind::tcp && impl_->walk) {
		impl_->skel->next_sample_pass();
		// A pass's first row is no repeat of the last pass's last one.
		const std::uint32_t zero = 0;
		const std::uint64_t none = 0;
		bpf_map_update_elem(bpf_map__fd(impl_->skel->map("walk_last")), &zero, &none, BPF_ANY);
		return walk_pass();
	}
	if (it == impl_->iters.end())
		return Error{ENOENT, what + ": not attached"};
	impl_->skel->next_sample_pass();
	UniqueFd fd(bpf_iter_create(bpf_link__fd(it->second.get())));
	if (!fd.valid())
		return Error::from_errno(errno, "create " + what);
	char buf[4096];
	for (;;) {
		ssize_t n = ::read(fd.get(), buf, sizeof(buf));
		// EAGAIN: the program ended the pass (iter/tcp, past the listening
		// hash); reading again would retry the same socket.
		if (n == 0 || (n < 0 && errno == EAGAIN))
			return {};
		if (n < 0 && errno != EINTR)
			return Error::from_errno(errno, "read " + what);
	}
}

Result<int> TraceProgram::poll(int timeout_ms, int wake_fd)
{
	Impl &i = *impl_;
	const int epfd = i.rb ? ring_buffer__epoll_fd(i.rb.get()) : perf_buffer__epoll_fd(i.pb.get());
	auto consume = [&] { return i.rb ? ring_buffer__consume(i.rb.get()) : perf_buffer__consume(i.pb.get()); };
	int n;
	if (wake_fd < 0) {
		n = i.rb ? ring_buffer__poll(i.rb.get(), timeout_ms) : perf_buffer__poll(i.pb.get(), timeout_ms);
	} else {
		// The reader's epoll fd is readable when a buffer has data.
		pollfd fds[2] = {{epfd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
		if (::poll(fds, 2, timeout_ms) < 0 && errno != EINTR)
			return Error::from_errno(errno, "poll event buffer and wake fd");
		n = consume();
	}
	if (i.pb)
		i.release_perf(false);
	if (n < 0 && n != -EINTR)
		return Error::from_errno(-n, i.rb ? "poll ring buffer events" : "poll perf buffer events");
	return n < 0 ? 0 : n;
}

void TraceProgram::each_listener(const std::function<void(const lq_listener_key &, const lq_listener_state &)> &fn,
				 bool unfilled) const
{
	const int fd = bpf_map__fd(impl_->skel->map("listeners"));
	// In batches (5.6+): at 50k listeners, a key walk is 100k syscalls, most
	// of a scrape's time. Bounded buffers; a kernel without batch lookups
	// (EINVAL) takes the key walk below.
	if (!impl_->no_batch) {
		std::vector<lq_listener_key> keys(1024);
		std::vector<lq_listener_state> vals(keys.size());
		alignas(8) unsigned char token[16] = {};
		void *in = nullptr;
		bool first = true;
		for (;;) {
			__u32 count = static_cast<__u32>(keys.size());
			const int err = bpf_map_lookup_batch(fd, in, token, keys.data(), vals.data(), &count, nullptr);
			const int e = err ? errno : 0;
			if (err && e == ENOSPC && keys.size() < (1u << 16)) {  // a bucket bigger than the buffer
				keys.resize(keys.size() * 2);
				vals.resize(keys.size());
				continue;
			}
			if (err && e != ENOENT && first) {
				impl_->no_batch = true;  // not supported here: the key walk
				break;
			}
			for (__u32 i = 0; i < count; i++)
				if (vals[i].family || unfilled)  // family 0: inserted, not filled yet
					fn(keys[i], vals[i]);
			if (err)
				return;  // ENOENT: the end (or an error mid-way: what was read is used)
			in = token;
			first = false;
		}
	}
	lq_listener_key key{}, next{};
	lq_listener_key *prev = nullptr;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		lq_listener_state st;
		// family 0: inserted, not filled yet (bpf/lq_common.bpf.h)
		if (bpf_map_lookup_elem(fd, &next, &st) == 0 && (st.family || unfilled))
			fn(next, st);
		key = next;
		prev = &key;
	}
}

namespace {

// Every key of a hash map, read before the caller looks at the values: it
// may then delete as it goes (deleting during a get_next_key walk would
// restart it).
template <typename K>
std::vector<K> map_keys(int fd)
{
	std::vector<K> keys;
	K key{}, next{};
	K *prev = nullptr;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		keys.push_back(next);
		key = next;
		prev = &key;
	}
	return keys;
}

}  // namespace

void TraceProgram::take_closed(const std::function<void(const lq_listener_key &, const lq_listener_state &)> &fn)
{
	const int fd = bpf_map__fd(impl_->skel->map("closed"));
	// A close after the key walk is taken by the next call.
	for (const lq_listener_key &k : map_keys<lq_listener_key>(fd)) {
		lq_listener_state st;
		if (bpf_map_lookup_elem(fd, &k, &st) == 0) {
			bpf_map_delete_elem(fd, &k);
			fn(k, st);
		}
	}
}

void TraceProgram::remove_listener(const lq_listener_key &k)
{
	bpf_map_delete_elem(bpf_map__fd(impl_->skel->map("listeners")), &k);
	bpf_map_delete_elem(bpf_map__fd(impl_->skel->map("epochs")), &k);
}

std::set<std::uint32_t> TraceProgram::fresh_netns() const
{
	std::set<std::uint32_t> out;
	const int fd = bpf_map__fd(impl_->skel->map("fresh"));
	for (__u64 k : map_keys<__u64>(fd)) {
		lq_fresh f;
		if (bpf_map_lookup_elem(fd, &k, &f) == 0)
			out.insert(f.netns);
	}
	return out;
}

std::uint64_t TraceProgram::stat(std::uint32_t idx, bool zero) const
{
	const int fd = bpf_map__fd(impl_->skel->map("stats"));
	const int ncpu = libbpf_num_possible_cpus();
	std::vector<std::uint64_t> vals(static_cast<std::size_t>(ncpu > 0 ? ncpu : 1));
	std::uint64_t sum = 0;
	if (bpf_map_lookup_elem(fd, &idx, vals.data()) == 0)
		for (auto v : vals)
			sum += v;
	if (zero && sum) {
		std::fill(vals.begin(), vals.end(), 0);
		bpf_map_update_elem(fd, &idx, vals.data(), BPF_ANY);
	}
	return sum;
}

// Perf buffer: where bpf_perf_event_output() returns the kernel's -ENOSPC,
// the BPF side counts a loss at once, and the kernel's PERF_RECORD_LOST
// counts the same loss again when the next record is written on that CPU;
// where the helper returns 0 regardless, only the latter counts. Either
// way the larger is the count, and no loss is counted twice.
std::uint64_t TraceProgram::events_lost() const
{
	const std::uint64_t bpf_side = stat(LQ_STAT_EVENTS_LOST);
	return impl_->pb ? std::max(bpf_side, impl_->perf_lost) : bpf_side;
}

std::uint64_t TraceProgram::events_late() const { return impl_->perf_late; }

// bpf_prog_info.recursion_misses (5.12+; 0 before, where such runs are
// counted nowhere): a kprobe program that fires while another BPF program
// runs on that CPU is not run (bpf_prog_active), nor a trampoline program
// re-entered. Each such run is an event this tier did not count.
std::uint64_t TraceProgram::recursion_misses() const
{
	std::uint64_t sum = 0;
	for (int fd : impl_->hook_fds) {
		bpf_prog_info info{};
		__u32 len = sizeof(info);
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
			sum += info.recursion_misses;
	}
	return sum;
}

void TraceProgram::drain()
{
	Impl &i = *impl_;
	if (i.rb) {
		ring_buffer__consume(i.rb.get());
		return;
	}
	perf_buffer__consume(i.pb.get());
	i.release_perf(true);
}

void TraceProgram::next_interval() { impl_->skel->next_interval(); }

}  // namespace listenq
