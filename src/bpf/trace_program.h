// Carries out a plan (src/plan/plan.h) with bpf/trace.bpf.c: open ->
// configure -> load -> attach -> hand over. A program the kernel refuses
// at load or attach is switched off, the plan is made again without it and
// the object re-opened; the final plan says what was refused and what
// stands in for it. Then: sample passes, events, the listeners map.
// Destruction detaches everything (member order).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "listenq/abi.h"
#include "plan/features.h"
#include "plan/plan.h"
#include "util/result.h"

namespace listenq {

struct TraceProgramOptions {
	std::string btf_path;
	std::uint32_t max_listeners = 65536;
	std::uint32_t ringbuf_bytes = 4u << 20;  // power of 2, >= page size
};

// The iterators a sample pass can run (fact queues).
// tcp: iter/tcp, or where it does not load the kprobe walk of
// /proc/net/tcp{,6} (sample_walk{4,6}), in the calling thread's netns.
// busy: sample_busy run by BPF_PROG_TEST_RUN over the listeners map (the
// busy listeners; every one with run_busy_pass(true)).
enum class PassKind { tracked, tcp, files, busy };

class TraceProgram {
public:
	using EventFn = std::function<void(std::span<const std::uint8_t>)>;

	// Load only: the plan the kernel accepts, without attaching (probe).
	static Result<Plan> try_load(const TraceProgramOptions &opts, const KernelFeatures &f, Plan plan);
	static Result<std::unique_ptr<TraceProgram>> start(const TraceProgramOptions &opts, const KernelFeatures &f,
							   Plan plan, EventFn on_event);
	~TraceProgram();

	const Plan &plan() const;
	// What is attached: "fexit/inet_csk_accept", "tp_btf/sys_exit", ...
	const std::vector<std::string> &attached() const;
	bool can_run(PassKind k) const;
	// One pass of that iterator (in the caller's netns for tcp).
	Result<void> run_pass(PassKind k);
	// The busy pass; all: every listener read, not only the busy ones.
	// A failed run (the kernel's test run refused) turns it off for good:
	// can_run(busy) is false after, and the error says why.
	Result<void> run_busy_pass(bool all);
	// Each sample starts a tick (the busy pass reads a listener once a
	// tick); the current one, for reading the map between samples.
	void next_sample_tick();
	std::uint32_t sample_tick() const;
	Result<int> poll(int timeout_ms, int wake_fd = -1);

	// Every entry of the listeners map; unfilled: also entries inserted but
	// not filled yet (family 0), which readers skip and pruning must not.
	void each_listener(const std::function<void(const lq_listener_key &, const lq_listener_state &)> &fn,
			   bool unfilled = false) const;
	void remove_listener(const lq_listener_key &k);
	// Every listener closed since the last call, with its final state,
	// taken out of the closed map (bpf/lq_common.bpf.h): each is given once.
	void take_closed(const std::function<void(const lq_listener_key &, const lq_listener_state &)> &fn);
	// Netns of the listeners started under raw hooks that wait for a full pass.
	std::set<std::uint32_t> fresh_netns() const;
	// Sum over CPUs of one enum lq_stat slot; zero: reset it after.
	std::uint64_t stat(std::uint32_t idx, bool zero = false) const;
	std::uint64_t events_lost() const;  // ringbuf or perf buffer full
	// Perf buffer: records that came later than the reorder window, handed
	// over out of time order.
	std::uint64_t events_late() const;
	// Runs of the attached hooks the kernel skipped (recursion), summed.
	std::uint64_t recursion_misses() const;
	// Hands over every event written so far (the perf buffer's held ones
	// included): at the end of a run.
	void drain();
	void next_interval();

	struct Impl;

private:
	explicit TraceProgram(std::unique_ptr<Impl> impl);
	std::unique_ptr<Impl> impl_;
};

// "prog 'sample_tracked': failed to load: -1" and the like in libbpf's log
// -> the refused program (or map kind): pure, for the tests.
std::optional<Refusal> refusal_from_libbpf_log(const std::string &log, int err);
// When libbpf's log names no program: the one whose presence makes the
// load fail, by halves, confirmed alone (nullopt: no single program's
// failure). load(programs) returns 0, or the kernel's errno. Pure.
using LoadTrial = std::function<Result<int>(const std::set<std::string> &)>;
Result<std::optional<std::string>> find_refused_by_bisection(std::set<std::string> progs, const LoadTrial &load);
// "map 'listeners': failed to create: ..." -> {map name, the reason}.
std::optional<std::pair<std::string, std::string>> failed_map_in_libbpf_log(const std::string &log);

}  // namespace listenq
