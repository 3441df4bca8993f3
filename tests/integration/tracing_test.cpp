// listenq trace / watch on the host kernel (tier 3: tracepoints + iter/tcp
// sampling), against real listeners in a private netns and the netns's
// own TcpExt counters.
#include <gtest/gtest.h>
#include <cstdio>
#include <sys/utsname.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <netinet/in.h>
#include <algorithm>
#include <thread>

#include <unistd.h>

#include "privileged.h"
#include "util/files.h"

using nlohmann::json;
using namespace listenq;
using namespace listenq::testing;
using namespace std::chrono_literals;

namespace {

// This process's netns inode: a tracer sees every netns, and another
// netns can have a listener on the same port.
std::uint64_t own_netns()
{
	struct stat st {};
	return ::stat("/proc/self/ns/net", &st) == 0 ? st.st_ino : 0;
}

// Whether a watch frame's plan leaves this field unmeasured (null).
bool unmeasured(const json &frame, const char *field)
{
	for (const json &u : frame["unmeasured"])
		if (u == field)
			return true;
	return false;
}

class Tracing : public ::testing::Test {
protected:
	void SetUp() override { LQ_REQUIRE_ROOT_NETNS(); }
};

TEST_F(Tracing, ListenRelistenAndClampAreTracedWithRequestedAndEffective)
{
	Spawned trace({LISTENQ_BIN, "trace", "--json", "--duration", "3"});
	auto header = trace.read_line(kStartLimit);
	ASSERT_TRUE(header) << "trace did not start";
	json h = json::parse(*header);
	EXPECT_EQ(h["schema"], "listenq.trace/1");
	EXPECT_FALSE(h["tier"].get<std::string>().empty());

	std::uint16_t port = 0;
	{
		auto l = make_listener("127.0.0.1", 0, 10);
		ASSERT_TRUE(l) << l.error().message;
		port = local_port(l->get());
		ASSERT_EQ(::listen(l->get(), 50), 0);
		ASSERT_EQ(::listen(l->get(), 100000), 0);  // > somaxconn (4096 in a new netns since 5.4, 128 before)
	}  // closed here
	std::vector<std::string> rest;
	std::string err;
	ASSERT_EQ(trace.wait(10s, rest, err), 0) << err;
	EXPECT_NE(err.find("0 lost"), std::string::npos) << err;

	std::vector<json> ev;
	for (auto &e : parse_json_lines(rest))
		if (e["port"] == port && e["netns"] == own_netns())
			ev.push_back(e);
	ASSERT_EQ(ev.size(), 5u) << json(ev).dump(2);
	EXPECT_EQ(ev[0]["event"], "listen");
	EXPECT_EQ(ev[0]["backlog"], 10);
	EXPECT_EQ(ev[0]["pid"], ::getpid());
	EXPECT_EQ(ev[1]["event"], "relisten");
	EXPECT_EQ(ev[1]["prev_backlog"], 10);
	EXPECT_EQ(ev[1]["backlog"], 50);
	EXPECT_EQ(ev[1]["requested_backlog"], 50);
	EXPECT_EQ(ev[2]["event"], "relisten");
	EXPECT_EQ(ev[2]["prev_backlog"], 50);
	EXPECT_EQ(ev[2]["backlog"], netns_somaxconn());
	EXPECT_EQ(ev[2]["requested_backlog"], 100000);
	EXPECT_EQ(ev[3]["event"], "clamp");
	EXPECT_EQ(ev[3]["requested_backlog"], 100000);
	EXPECT_EQ(ev[3]["backlog"], netns_somaxconn());
	EXPECT_EQ(ev[4]["event"], "close");
	for (std::size_t i = 1; i < ev.size(); i++)
		EXPECT_GE(ev[i]["ts_ns"].get<std::uint64_t>(), ev[i - 1]["ts_ns"].get<std::uint64_t>());
}

// A slow acceptor (backlog 4) gets 20 connections at once: the queue peaks
// at 5 (full means > backlog), the rest overflow, and listenq's overflow
// counts add up to the netns's TcpExt ListenOverflows delta.
TEST_F(Tracing, WatchOverflowPeakAndNetstatAgree)
{
	// Open-ended, ended by SIGINT after the last step: under emulation a
	// fixed frame count can run out before the close.
	Spawned watch({LISTENQ_BIN, "watch", "--netns", std::to_string(own_netns()), "0.3", "--json"});
	auto first = watch.read_line(kStartLimit);
	ASSERT_TRUE(first) << "watch did not start";
	const std::uint64_t overflows_before = netstat_counter("ListenOverflows");
	ASSERT_NE(overflows_before, UINT64_MAX);
	const char *synq_mibs[] = {"TCPReqQFullDrop", "TCPReqQFullDoCookies", "SyncookiesSent"};
	std::uint64_t synq_before[3];
	for (int i = 0; i < 3; i++)
		synq_before[i] = netstat_counter(synq_mibs[i]);

	auto l = make_listener("127.0.0.1", 0, 4);
	ASSERT_TRUE(l);
	const std::uint16_t port = local_port(l->get());
	std::vector<UniqueFd> clients = connect_burst(port, 20);
	ASSERT_TRUE(wait_until([&] { return accept_queue_by_tcp_info(l->get()) >= 5; }, 2s));
	std::this_thread::sleep_for(700ms);  // at least two frames see the full queue
	clients.clear();                      // no more SYN retransmits
	// 5 were queued. A closing client's FIN can complete its handshake
	// from the SYN queue once accept() made room (a child queued after
	// the accepts): accept until the queue has stayed empty for 300 ms,
	// and count what was taken.
	int accepted = 0;
	for (int quiet = 0, round = 0; quiet < 3 && round < 50; round++) {
		const int n = accept_all(l->get());
		accepted += n;
		quiet = n ? 0 : quiet + 1;
		std::this_thread::sleep_for(100ms);
	}
	EXPECT_GE(accepted, 5);
	std::this_thread::sleep_for(700ms);  // frames after the accepts
	l->reset();                          // close: the listener leaves the map
	std::this_thread::sleep_for(700ms);  // frames after the close
	watch.signal(SIGINT);

	std::vector<std::string> rest;
	std::string err;
	ASSERT_EQ(watch.wait(15s, rest, err), 0) << err;
	const std::uint64_t overflows_delta = netstat_counter("ListenOverflows") - overflows_before;
	EXPECT_GT(overflows_delta, 0u);

	std::uint64_t ovf = 0, accepts = 0, enqueued = 0, synq[3] = {};
	std::uint32_t peak = 0, last_queue = 99;
	bool seen = false, gone_after = false, wait_measured = false, exact_enqueue = false, exact_synq = false;
	bool wait_unmeasured = false, accepts_unmeasured = false, enqueue_unmeasured = false;
	std::uint32_t hol_peak = 0;
	const char *synq_keys[] = {"synq_full_drops", "synq_full_cookies", "syncookies_sent"};
	std::string tier;
	for (const json &f : parse_json_lines(rest)) {
		tier = f["tier"];
		EXPECT_EQ(f["schema"], "listenq.watch/1");
		wait_unmeasured |= unmeasured(f, "accept_wait");
		accepts_unmeasured |= unmeasured(f, "accepted");
		enqueue_unmeasured |= unmeasured(f, "enqueued");
		EXPECT_EQ(f["events_lost"], 0);
		bool here = false;
		for (const json &x : f["listeners"]) {
			if (x["port"] != port)
				continue;
			here = seen = true;
			EXPECT_EQ(x["backlog"], 4);
			// watch's default: no syscall hooks, so no requested backlog
			EXPECT_FALSE(f["syscalls"].get<bool>());
			EXPECT_TRUE(x["requested_backlog"].is_null());
			peak = std::max(peak, x["accept_queue_peak"].get<std::uint32_t>());
			last_queue = x["accept_queue"];
			// overflow_ack is null where ListenOverflows cannot be split
			// by path (tier 3 before 6.15): overflow_syn then has both.
			ovf += x["interval"]["overflow_syn"].get<std::uint64_t>() +
			       (x["interval"]["overflow_ack"].is_null() ? 0 : x["interval"]["overflow_ack"].get<std::uint64_t>());
			if (!x["interval"]["accepts"].is_null())
				accepts += x["interval"]["accepts"].get<std::uint64_t>();
			exact_enqueue = !x["total"]["enqueued"].is_null();
			if (exact_enqueue)
				enqueued = x["total"]["enqueued"];
			exact_synq = !x["total"]["synq_full_drops"].is_null();
			for (int i = 0; i < 3 && exact_synq; i++)
				synq[i] += x["interval"][synq_keys[i]].get<std::uint64_t>();
			wait_measured |= !x["interval"]["wait_p50_us"].is_null();
			hol_peak = std::max(hol_peak, x["interval"]["hol_wait_peak_us"].get<std::uint32_t>());
		}
		if (seen && !here)
			gone_after = true;
	}
	std::string frames;
	for (const auto &line : rest)
		frames += line + "\n";
	SCOPED_TRACE("watch frames:\n" + frames);
	ASSERT_TRUE(seen);
	// backlog 4 + 1, or one more per other CPU that completed a handshake
	// at the same moment (accept_queue_most; 6 once in 50 runs in the 5.10
	// guest).
	EXPECT_GE(peak, 5u);
	EXPECT_LE(peak, accept_queue_most(4));
	EXPECT_EQ(ovf, overflows_delta) << "listenq overflows vs TcpExt ListenOverflows delta";
	// Unmeasured only where the plan says so: tier 3 without sk_storage in
	// tracing programs (5.10) counts no enqueues, so no accepts either
	// without the syscall hooks.
	EXPECT_EQ(accepts, accepts_unmeasured ? 0u : static_cast<std::uint64_t>(accepted)) << tier;
	EXPECT_EQ(last_queue, 0u) << "accepting everything empties the queue";
	EXPECT_TRUE(gone_after) << "close removes the listener";
	// Enqueues are counted in every tier with sk_storage (tier 3: the
	// children's state changes); accept waits only by tiers 1-2's hooks.
	EXPECT_EQ(exact_enqueue, !enqueue_unmeasured) << tier;
	EXPECT_EQ(enqueued, enqueue_unmeasured ? 0u : static_cast<std::uint64_t>(accepted)) << tier;
	EXPECT_EQ(wait_measured, !wait_unmeasured) << tier;
	EXPECT_GT(hol_peak, 300000u) << "the full queue's head waited at least a frame";
	// With tcp_conn_request hooked, the SYN-queue outcomes match the netns MIBs.
	if (exact_synq) {
		for (int i = 0; i < 3; i++) {
			EXPECT_EQ(synq[i], netstat_counter(synq_mibs[i]) - synq_before[i]) << synq_mibs[i] << " " << tier;
		}
	}
}

// A server that overflows and then restarts: the listener closes within
// the frame of its overflows, with no sleep before the close. Its last
// interval still reaches the next frame, as a row marked closed, and the
// frames' overflows add up to the kernel's ListenOverflows rise.
TEST_F(Tracing, ClosingListenerIsCountedToTheEnd)
{
	Spawned watch({LISTENQ_BIN, "watch", "--netns", std::to_string(own_netns()), "1", "--json"});
	ASSERT_TRUE(watch.read_line(kStartLimit)) << "watch did not start";
	const std::uint64_t before = netstat_counter("ListenOverflows");
	ASSERT_NE(before, UINT64_MAX);
	auto l = make_listener("127.0.0.1", 0, 4);
	ASSERT_TRUE(l);
	const std::uint16_t port = local_port(l->get());
	std::vector<UniqueFd> clients = connect_burst(port, 20);
	// The SYNs are handled in softirq, which a busy guest defers to
	// ksoftirqd: closed before they arrive, the listener overflows not at
	// all (5.4 guest in CI: ListenOverflows +0). So it closes as soon as the
	// kernel has counted an overflow, within the frame that saw it.
	ASSERT_TRUE(wait_until([&] { return netstat_counter("ListenOverflows") > before; }, 5s))
		<< "the kernel counted no overflow";
	l->reset();
	clients.clear();
	const std::uint64_t delta = netstat_counter("ListenOverflows") - before;
	// Two frames after the close: the one that shows it, and one without it.
	std::vector<std::string> rest;
	for (int i = 0; i < 3; i++) {
		auto line = watch.read_line(10s);
		ASSERT_TRUE(line) << "no frame";
		rest.push_back(*line);
	}
	watch.signal(SIGINT);
	std::string err;
	std::vector<std::string> tail;
	ASSERT_EQ(watch.wait(15s, tail, err), 0) << err;
	rest.insert(rest.end(), tail.begin(), tail.end());

	std::uint64_t ovf = 0;
	int closed_rows = 0, rows_after_closed = 0;
	std::string frames, shown;
	for (const json &f : parse_json_lines(rest)) {
		frames += f.dump() + "\n";
		EXPECT_EQ(f["closed_lost"], 0);
		shown += "[ measured ]   frame " + f["seq"].dump() + ":";
		bool any = false;
		for (const json &x : f["listeners"]) {
			if (x["port"] != port)
				continue;
			any = true;
			shown += " port " + x["port"].dump() + " closed " + x["closed"].dump() + " backlog " +
				 x["backlog"].dump() + " accept_queue_peak " + x["accept_queue_peak"].dump() +
				 " interval.overflow_syn " + x["interval"]["overflow_syn"].dump() + " interval.overflow_ack " +
				 x["interval"]["overflow_ack"].dump() + " total.overflow_syn " +
				 x["total"]["overflow_syn"].dump() + ";";
			if (closed_rows)
				rows_after_closed++;
			ovf += x["interval"]["overflow_syn"].get<std::uint64_t>() +
			       (x["interval"]["overflow_ack"].is_null() ? 0 : x["interval"]["overflow_ack"].get<std::uint64_t>());
			if (x["closed"].get<bool>()) {
				closed_rows++;
				EXPECT_EQ(x["backlog"], 4);
			}
		}
		shown += any ? "\n" : " no row of this port\n";
	}
	SCOPED_TRACE("watch frames:\n" + frames);
	std::cout << "[ measured ] backlog 4, 20 connects, closed at once: ListenOverflows +" << delta
		  << ", watch frames' overflows " << ovf << "\n"
		  << shown << std::flush;
	EXPECT_GT(delta, 0u);
	EXPECT_EQ(ovf, delta) << "the frames' overflows vs the kernel's ListenOverflows rise";
	EXPECT_EQ(closed_rows, 1) << "one row marked closed";
	EXPECT_EQ(rows_after_closed, 0) << "a closed listener is shown once";
}

// A stopped acceptor: the head-of-line wait grows with the time since the
// connections came, in every tier (the sampler reads the queue's head and
// its SYN-ACK time; this checks that clock against ours), and drops to 0
// once they are accepted.
TEST_F(Tracing, HeadOfLineWaitOfAStoppedAcceptorIsItsAge)
{
	auto l = make_listener("127.0.0.1", 0, 16);
	ASSERT_TRUE(l);
	const std::uint16_t port = local_port(l->get());
	Spawned watch({LISTENQ_BIN, "watch", "--netns", std::to_string(own_netns()), "0.2", "--json", "--port", std::to_string(port)});
	ASSERT_TRUE(watch.read_line(kStartLimit)) << "watch did not start";
	const auto t0 = std::chrono::steady_clock::now();
	auto clients = connect_many("127.0.0.1", port, 3);
	ASSERT_TRUE(clients) << clients.error().message;
	std::string frames;
	std::uint32_t checked = 0, last_wait = 0;
	// Before 4.20 the TCP clock that stamps snt_synack is local_clock()
	// (sched_clock, per CPU), not CLOCK_MONOTONIC, the clock of
	// bpf_ktime_get_ns() and of this test: the two drift apart, so the
	// wait there is only as right as that drift (6 ms seen on the 4.19
	// guest under TCG). Later kernels stamp with ktime_get_ns().
	struct utsname u;
	::uname(&u);
	unsigned major = 0, minor = 0;
	std::sscanf(u.release, "%u.%u", &major, &minor);
	const std::int64_t clock_slack = (major < 4 || (major == 4 && minor < 20)) ? 50000 : 0;
	for (int i = 0; i < 60; i++) {
		auto line = watch.read_line(10s);
		ASSERT_TRUE(line) << "watch stopped";
		const auto age_us = static_cast<std::int64_t>(
			std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count());
		frames += *line + "\n";
		const json f = json::parse(*line);
		for (const json &x : f["listeners"]) {
			if (x["port"] != port || x["accept_queue"] != 3)
				continue;
			ASSERT_FALSE(x["hol_wait_us"].is_null()) << "the head-of-line wait is sampled in every tier";
			last_wait = x["hol_wait_us"];
			// Sampled at most a frame (200 ms) plus a sample (100 ms)
			// before this frame was read, never after it.
			EXPECT_LE(last_wait, age_us + clock_slack) << frames;
			if (age_us > 600000) {
				EXPECT_GE(static_cast<std::int64_t>(last_wait), age_us - 200000 - 100000 - 150000) << frames;
				checked++;
			}
			EXPECT_GE(x["interval"]["hol_wait_peak_us"].get<std::uint32_t>(), last_wait);
		}
		if (age_us > 1600000)
			break;
	}
	EXPECT_GE(checked, 3u) << frames;
	EXPECT_GT(last_wait, 1000000u) << frames;
	EXPECT_EQ(accept_all(l->get()), 3);
	bool drained = false;
	std::string after;
	for (int i = 0; i < 10 && !drained; i++) {
		auto line = watch.read_line(10s);
		ASSERT_TRUE(line);
		const json f = json::parse(*line);  // kept: a loop over a temporary's member dangles
		for (const json &x : f["listeners"])
			if (x["port"] == port) {
				after += x.dump() + "\n";
				drained |= x["accept_queue"] == 0 && x["hol_wait_us"] == 0;
			}
	}
	EXPECT_TRUE(drained) << "an empty queue has no head-of-line wait\n" << after;
	watch.signal(SIGINT);
	std::vector<std::string> rest;
	std::string err;
	EXPECT_EQ(watch.wait(15s, rest, err), 0) << err;
}

// watch's default attaches no syscall hook, yet counts every accept: from
// the enqueues (tier 3: the children's state changes) minus the queue, or
// the accept hooks of tiers 1-2.
TEST_F(Tracing, AcceptsAreCountedWithoutSyscallHooks)
{
	auto l = make_listener("127.0.0.1", 0, 64);
	ASSERT_TRUE(l);
	const std::uint16_t port = local_port(l->get());
	Spawned watch({LISTENQ_BIN, "watch", "--netns", std::to_string(own_netns()), "0.3", "--json", "--port", std::to_string(port)});
	auto first = watch.read_line(kStartLimit);
	ASSERT_TRUE(first) << "watch did not start";
	const json f0 = json::parse(*first);
	EXPECT_FALSE(f0["syscalls"].get<bool>());
	if (unmeasured(f0, "accepted")) {
		watch.signal(SIGINT);
		GTEST_SKIP() << "tier " << f0["tier"].get<std::string>()
			     << " counts no enqueues here (no sk_storage in tracing programs before 5.11), so no "
				"accepts without --syscalls: " << f0["hooks_not_used"].dump();
	}
	{
		auto clients = connect_many("127.0.0.1", port, 10);
		ASSERT_TRUE(clients) << clients.error().message;
		ASSERT_TRUE(wait_until([&] { return accept_queue_by_tcp_info(l->get()) == 10; }, 2s));
		EXPECT_EQ(accept_all(l->get()), 10);
	}
	std::this_thread::sleep_for(1s);
	watch.signal(SIGINT);
	std::vector<std::string> rest;
	std::string err;
	ASSERT_EQ(watch.wait(15s, rest, err), 0) << err;
	std::uint64_t accepts = 0, total = 0, enqueued = 0;
	std::string frames;
	for (const json &f : parse_json_lines(rest)) {
		frames += f.dump() + "\n";
		for (const json &x : f["listeners"])
			if (x["port"] == port) {
				accepts += x["interval"]["accepts"].get<std::uint64_t>();
				total = x["total"]["accepted"];
				if (!x["total"]["enqueued"].is_null())
					enqueued = x["total"]["enqueued"];
			}
	}
	EXPECT_EQ(accepts, 10u) << frames;
	EXPECT_EQ(total, 10u) << frames;
	EXPECT_EQ(enqueued, 10u) << frames;
}

// Without listen()'s syscall exit, a re-listen shows as the backlog the
// sampler sees change; its requested value is unknown, and no clamp.
TEST_F(Tracing, RelistenIsFoundBySamplingWithoutSyscallHooks)
{
	Spawned trace({LISTENQ_BIN, "trace", "--json", "--no-syscalls", "--duration", "8"});
	auto header = trace.read_line(kStartLimit);
	ASSERT_TRUE(header) << "trace did not start";
	EXPECT_FALSE(json::parse(*header)["syscalls"].get<bool>());
	std::uint16_t port = 0;
	{
		auto l = make_listener("127.0.0.1", 0, 10);
		ASSERT_TRUE(l) << l.error().message;
		port = local_port(l->get());
		std::this_thread::sleep_for(400ms);  // a sample sees backlog 10
		ASSERT_EQ(::listen(l->get(), 50), 0);
		// and then 50: at the next sample, or where the busy pass samples
		// (sample_busy) at its next read of every listener, within 5 s
		std::this_thread::sleep_for(5500ms);
	}
	std::vector<std::string> rest;
	std::string err;
	ASSERT_EQ(trace.wait(10s, rest, err), 0) << err;
	std::vector<json> ev;
	for (auto &e : parse_json_lines(rest))
		if (e["port"] == port && e["netns"] == own_netns())
			ev.push_back(e);
	ASSERT_EQ(ev.size(), 3u) << json(ev).dump(2);
	EXPECT_EQ(ev[0]["event"], "listen");
	EXPECT_EQ(ev[1]["event"], "relisten");
	EXPECT_EQ(ev[1]["prev_backlog"], 10);
	EXPECT_EQ(ev[1]["backlog"], 50);
	EXPECT_TRUE(ev[1]["requested_backlog"].is_null());
	EXPECT_EQ(ev[1]["pid"], ::getpid()) << "the listener's owner, not the sampler";
	EXPECT_EQ(ev[2]["event"], "close");
}

TEST_F(Tracing, ListenersOlderThanListenqAreSeeded)
{
	auto l = make_listener("::1", 0, 33);
	ASSERT_TRUE(l);
	const std::uint16_t port = local_port(l->get());
	auto c = connect_to("::1", port);
	ASSERT_TRUE(c);
	ASSERT_TRUE(wait_until([&] { return accept_queue_by_tcp_info(l->get()) == 1; }, 2s));
	RunResult r = run_program({LISTENQ_BIN, "watch", "--netns", std::to_string(own_netns()), "0.2", "1", "--json", "--port", std::to_string(port)});
	ASSERT_EQ(r.exit_code, 0) << r.err;
	json f = json::parse(r.out);
	ASSERT_EQ(f["listeners"].size(), 1u) << r.out;
	const json &x = f["listeners"][0];
	EXPECT_TRUE(x["seeded"].get<bool>());
	EXPECT_TRUE(x["requested_backlog"].is_null());
	EXPECT_EQ(x["backlog"], 33);
	EXPECT_EQ(x["accept_queue"], 1);
	EXPECT_EQ(x["family"], "ipv6");
	EXPECT_FALSE(f["sampled"].empty()) << "the SYN queue is always sampled";
}

// A seeded listener's accepts count like any other's (5.10: its key comes
// from the kprobe walk, the accept's from the accept hook).
TEST_F(Tracing, SeededListenerCountsItsAccepts)
{
	auto l = make_listener("127.0.0.1", 0, 8);
	ASSERT_TRUE(l);
	const std::uint16_t port = local_port(l->get());
	auto clients = connect_many("127.0.0.1", port, 3);
	ASSERT_TRUE(clients) << clients.error().message;
	ASSERT_TRUE(wait_until([&] { return accept_queue_by_tcp_info(l->get()) == 3; }, 2s));
	Spawned watch({LISTENQ_BIN, "watch", "--netns", std::to_string(own_netns()), "0.3", "--json", "--port", std::to_string(port)});
	std::uint64_t accepts = 0;
	bool seen = false;
	for (int i = 0; i < 20 && !seen; i++) {  // until a frame has the seeded listener
		auto line = watch.read_line(10s);
		ASSERT_TRUE(line) << "watch stopped";
		const json f = json::parse(*line);
		if (unmeasured(f, "accepted")) {
			watch.signal(SIGINT);
			GTEST_SKIP() << "tier " << f["tier"].get<std::string>()
				     << ": no accepts without --syscalls here: " << f["hooks_not_used"].dump();
		}
		for (const json &x : f["listeners"])
			seen |= x["port"] == port;
	}
	ASSERT_TRUE(seen);
	EXPECT_EQ(accept_all(l->get()), 3);
	std::this_thread::sleep_for(1s);
	watch.signal(SIGINT);
	std::vector<std::string> rest;
	std::string err;
	ASSERT_EQ(watch.wait(15s, rest, err), 0) << err;
	std::string frames;
	for (const json &f : parse_json_lines(rest)) {
		frames += f.dump() + "\n";
		for (const json &x : f["listeners"])
			if (x["port"] == port) {
				EXPECT_TRUE(x["seeded"].get<bool>());
				accepts += x["interval"]["accepts"].get<std::uint64_t>();
			}
	}
	EXPECT_EQ(accepts, 3u) << frames;
}

TEST_F(Tracing, WatchTextHeaderNamesTierAndSampledNumbers)
{
	auto l = make_listener("127.0.0.1", 0, 7);
	ASSERT_TRUE(l);
	RunResult r = run_program({LISTENQ_BIN, "watch", "--netns", std::to_string(own_netns()), "0.2", "1"});
	ASSERT_EQ(r.exit_code, 0) << r.err;
	EXPECT_EQ(r.out.rfind("listenq watch: tier ", 0), 0u) << r.out;
	EXPECT_NE(r.out.find("sampled every 100 ms"), std::string::npos);
	EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "no terminal codes when stdout is a pipe";
	EXPECT_NE(r.out.find("127.0.0.1:" + std::to_string(local_port(l->get()))), std::string::npos);
}

TEST_F(Tracing, ForcedTierThatIsMissingIsRefusedWithTheReason)
{
	// kprobe: refused naming the missing PMU (the host), or every hook on
	// kprobes (the guests).
	RunResult k = run_program({LISTENQ_BIN, "--attach", "kprobe", "trace", "--json", "--duration", "0.1"});
	if (::access("/sys/bus/event_source/devices/kprobe/type", F_OK) != 0) {
		EXPECT_EQ(k.exit_code, 3) << k.err;
		EXPECT_NE(k.err.find("--attach=kprobe: no kprobe PMU"), std::string::npos) << k.err;
	} else {
		EXPECT_EQ(k.exit_code, 0) << k.err;
		EXPECT_NE(k.out.find("\"tier\":\"kprobe\""), std::string::npos) << k.out;
	}
	// fentry: refused with the reason where trampolines are not allowed (the
	// host), or every hook on fentry (a 6.12 guest), or fentry plus tier 3
	// for a fact whose trampoline cannot attach (6.1: 7-argument
	// tcp_v4_syn_recv_sock) -- never a kprobe.
	RunResult f = run_program({LISTENQ_BIN, "--attach", "fentry", "trace", "--json", "--duration", "0.1"});
	if (f.exit_code == 0) {
		EXPECT_TRUE(f.out.find("\"tier\":\"fentry\"") != std::string::npos ||
			    f.out.find("\"tier\":\"fentry+tracepoint\"") != std::string::npos)
			<< f.out;
	} else {
		EXPECT_EQ(f.exit_code, 3) << f.err;
		EXPECT_NE(f.err.find("--attach=fentry"), std::string::npos) << f.err;
	}
}

TEST_F(Tracing, SigintDetachesEverything)
{
	Spawned trace({LISTENQ_BIN, "trace"});
	ASSERT_TRUE(trace.read_line(kStartLimit));
	trace.signal(SIGINT);
	std::vector<std::string> rest;
	std::string err;
	EXPECT_EQ(trace.wait(10s, rest, err), 0) << err;
	EXPECT_NE(err.find(", 0 lost"), std::string::npos) << err;  // "N event(s), 0 lost"
}

}  // namespace

namespace {

TEST_F(Tracing, HistShowsSampledDepthPerListener)
{
	auto l = make_listener("127.0.0.1", 0, 16);
	ASSERT_TRUE(l);
	const std::uint16_t port = local_port(l->get());
	auto clients = connect_many("127.0.0.1", port, 6);
	ASSERT_TRUE(clients) << clients.error().message;
	RunResult r = run_program({LISTENQ_BIN, "hist", "0.5", "--json", "--netns", std::to_string(own_netns()), "--port", std::to_string(port)});
	ASSERT_EQ(r.exit_code, 0) << r.err;
	json j = json::parse(r.out);
	ASSERT_EQ(j["listeners"].size(), 1u);
	const json &x = j["listeners"][0];
	std::uint64_t in_4_7 = 0, total = 0;
	for (const json &b : x["depth"]["buckets"]) {
		total += b["count"].get<std::uint64_t>();
		if (b["low"] == 4)
			in_4_7 = b["count"];
	}
	if (j["tier"] == "tracepoint") {
		EXPECT_TRUE(x["depth"]["sampled"].get<bool>());
		EXPECT_GE(total, 3u) << "0.5 s at 100 ms samples";
		EXPECT_EQ(in_4_7, total) << "every sample saw a depth of 6: " << x.dump();
		EXPECT_TRUE(x["accept_wait_us"].is_null()) << "tier 3 cannot measure waits";
	} else {  // tier 1 records depth at enqueue: the 6 came before hist started
		EXPECT_FALSE(x["depth"]["sampled"].get<bool>());
		EXPECT_FALSE(x["accept_wait_us"].is_null()) << x.dump();
	}
}

}  // namespace

namespace {

// Half-open connections fill a backlog-4 listener's SYN queue (qlen > 4 is
// full): with tcp_syncookies=0 further SYNs are dropped (TCPReqQFullDrop),
// with 1 they are answered with cookies (TCPReqQFullDoCookies, then
// SyncookiesSent). Tiers 1-2 count both per listener and must match the
// netns MIBs exactly; tier 3 cannot see tcp_conn_request and attributes the
// netns counters to the one listener under SYN pressure.
TEST_F(Tracing, SynQueueFullDropsAndCookiesMatchTheNetnsCounters)
{
	auto peer = setup_blackhole_peer();
	ASSERT_TRUE(peer) << peer.error().message;
	auto l = make_listener("0.0.0.0", 0, 4);
	ASSERT_TRUE(l);
	const std::uint16_t port = local_port(l->get());
	Spawned watch({LISTENQ_BIN, "watch", "--netns", std::to_string(own_netns()), "0.3", "10", "--json", "--port", std::to_string(port)});
	ASSERT_TRUE(watch.read_line(kStartLimit)) << "watch did not start";

	const char *mibs[] = {"TCPReqQFullDrop", "TCPReqQFullDoCookies", "SyncookiesSent", "ListenOverflows"};
	std::uint64_t before[4];
	for (int i = 0; i < 4; i++)
		before[i] = netstat_counter(mibs[i]);
	std::uint16_t sport = 41000;
	ASSERT_TRUE(write_file("/proc/sys/net/ipv4/tcp_syncookies", "0"));
	for (int i = 0; i < 10; i++)  // 5 fill the SYN queue, 5 are dropped
		ASSERT_TRUE(send_raw_syn(sport++, port));
	std::this_thread::sleep_for(300ms);
	ASSERT_TRUE(write_file("/proc/sys/net/ipv4/tcp_syncookies", "1"));
	for (int i = 0; i < 5; i++)  // the SYN queue is still full: 5 cookies
		ASSERT_TRUE(send_raw_syn(sport++, port));
	std::uint64_t delta[4];
	ASSERT_TRUE(wait_until(
		[&] {
			for (int i = 0; i < 4; i++)
				delta[i] = netstat_counter(mibs[i]) - before[i];
			return delta[1] == 5;
		},
		2s));
	// SYN queue full is qlen > backlog since the 2025 fix "tcp/dccp: allow a
	// connection when sk_max_ack_backlog is zero" (6.14, and stable 6.1.y,
	// 6.12.y): 5 requests fit, 5 are dropped (>= before: 4 and 6). Which
	// side this kernel is on, its own counter says.
	ASSERT_TRUE(delta[0] == 5u || delta[0] == 6u) << "TCPReqQFullDrop +" << delta[0];
	const std::uint64_t fit = 10 - delta[0];
	EXPECT_EQ(delta[2], 5u);
	EXPECT_EQ(delta[3], 0u) << "the accept queue never filled";

	std::vector<std::string> rest;
	std::string err;
	ASSERT_EQ(watch.wait(15s, rest, err), 0) << err;
	auto frames = parse_json_lines(rest);
	ASSERT_FALSE(frames.empty());
	const json &last = frames.back();
	ASSERT_EQ(last["listeners"].size(), 1u) << last.dump();
	const json &t = last["listeners"][0]["total"];
	// Tiers 1-2 count them per listener at tcp_conn_request; tier 3 gives
	// the netns deltas to the one listener under SYN pressure.
	const auto &attributed = last["attributed"];
	EXPECT_EQ(std::find(attributed.begin(), attributed.end(), "synq_full_drops") != attributed.end(),
		  last["tier"] == "tracepoint")
		<< last.dump();
	EXPECT_TRUE(last["unattributed"].empty()) << last.dump();
	EXPECT_EQ(last["listeners"][0]["syn_queue"], fit);
	// The kprobe tier reads the kernel's verdict at qlen == backlog from its
	// outcome (krp_conn_request); tier 1 has no return hook there and takes
	// the kernel for a fixed one.
	const std::string tier = last["tier"];
	if (fit == 4 && tier.rfind("fentry", 0) == 0)
		GTEST_SKIP() << "this kernel predates the 2025 SYN-queue boundary fix (full at qlen >= backlog: "
			     << delta[0] << " dropped, " << fit << " queued) and tier 1 has no return hook on "
			     << "tcp_conn_request to see it (a known gap: the netns counters say " << delta[0]
			     << " drops, listenq " << t["synq_full_drops"] << ")";
	EXPECT_EQ(t["synq_full_drops"], delta[0]) << last.dump(2);
	EXPECT_EQ(t["synq_full_cookies"], delta[1]);
	EXPECT_EQ(t["syncookies_sent"], delta[2]);
	EXPECT_EQ(t["overflow_syn"], 0) << "SYN-queue drops are not accept-queue overflows";
}

// A kernel without one of the hooked functions: LISTENQ_SKIP_FUNCTIONS makes
// listenq treat tcp_conn_request as absent from BTF (the same code path).
// That fact falls back to tier 3 (netns counters) and is reported; every
// other fact keeps its tier, and the listener is still shown right.
TEST_F(Tracing, MissingHookFunctionFallsBackAndIsReported)
{
	auto l = make_listener("127.0.0.1", 0, 9);
	ASSERT_TRUE(l);
	const std::uint16_t port = local_port(l->get());
	auto c = connect_to("127.0.0.1", port);
	ASSERT_TRUE(c);
	const std::vector<std::string> argv = {LISTENQ_BIN, "watch", "--netns", std::to_string(own_netns()), "0.3", "1", "--json", "--port", std::to_string(port)};
	RunResult full = run_program(argv);
	ASSERT_EQ(full.exit_code, 0) << full.err;
	RunResult r = run_program(argv, {"LISTENQ_SKIP_FUNCTIONS=tcp_conn_request"});
	ASSERT_EQ(r.exit_code, 0) << r.err;
	json f = json::parse(r.out), all = json::parse(full.out);
	const std::string not_used = f["hooks_not_used"].dump();
	EXPECT_NE(not_used.find("tcp_conn_request: skipped (LISTENQ_SKIP_FUNCTIONS)"), std::string::npos) << not_used;
	const auto &attr = f["attributed"];
	EXPECT_NE(std::find(attr.begin(), attr.end(), "synq_full_drops"), attr.end()) << "tier 3 took it over";
	// The other facts keep their tier (overflow_ack may become unmeasured:
	// without tcp_conn_request ListenOverflows cannot be split by path).
	for (const char *field : {"enqueued", "accept_wait"}) {
		auto has = [&](const json &j) {
			return std::find(j["unmeasured"].begin(), j["unmeasured"].end(), field) != j["unmeasured"].end();
		};
		EXPECT_EQ(has(f), has(all)) << field << ": " << f["unmeasured"] << " vs " << all["unmeasured"];
	}
	ASSERT_EQ(f["listeners"].size(), 1u);
	EXPECT_EQ(f["listeners"][0]["backlog"], 9);
	EXPECT_EQ(f["listeners"][0]["accept_queue"], 1);
	if (all["tier"] != "tracepoint") {  // the guests: a function-hook tier stays in use
		EXPECT_NE(f["tier"].get<std::string>().find("+tracepoint"), std::string::npos) << f["tier"];
	}
}

}  // namespace

