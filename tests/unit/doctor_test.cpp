// diagnose(): each finding from the numbers that provoke it, and the
// numbers just short of them; the renderers against golden files.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <sstream>

#include "doctor/findings.h"
#include "golden.h"
#include "render/doctor_render.h"

using namespace listenq;
using listenq::testing::expect_golden;

namespace {

constexpr std::uint32_t kNetns = 4026532220;

ListenerObservation listener(std::uint16_t port, std::uint32_t backlog)
{
	ListenerObservation l;
	const std::uint8_t lo[16] = {127, 0, 0, 1};
	set_endpoint(l.id, AF_INET, lo, port);
	l.id.netns = kNetns;
	l.id.cookie = 4096 + port;
	l.pid = 1234;
	l.comm = "slow-server";
	l.backlog = backlog;
	l.seconds = 5;
	return l;
}

DoctorInput input(std::vector<ListenerObservation> ls, std::uint32_t somaxconn = 4096)
{
	DoctorInput in;
	in.seconds = 5;
	in.tier = "tracepoint";
	in.listeners = std::move(ls);
	NetnsObservation ns;
	ns.netns = kNetns;
	ns.somaxconn = somaxconn;
	ns.max_syn_backlog = 2048;
	ns.syncookies = 1;
	ns.abort_on_overflow = 0;
	ns.delta = ListenCounters{};
	in.netns[kNetns] = ns;
	in.tcp_diag = true;
	return in;
}

std::vector<const Finding *> with_id(const std::vector<Finding> &f, const std::string &id)
{
	std::vector<const Finding *> v;
	for (const Finding &x : f)
		if (x.id == id)
			v.push_back(&x);
	return v;
}

// The findings and the input they point into, kept together.
struct Diag {
	DoctorInput in;
	std::vector<Finding> f;
	explicit Diag(DoctorInput i) : in(std::move(i)), f(diagnose(in)) {}
	std::vector<const Finding *> of(const std::string &id) const { return with_id(f, id); }
};

double evidence(const Finding &f, const std::string &key)
{
	for (const Evidence &e : f.evidence)
		if (e.key == key)
			return e.value;
	ADD_FAILURE() << "no evidence " << key << " in " << f.id;
	return -1;
}

// The demo's server: backlog 8, one accept every 250 ms, a burst on top.
ListenerObservation overflowing()
{
	ListenerObservation l = listener(8080, 8);
	l.accept_queue = 9;
	l.accept_queue_peak = 9;
	l.seconds_full = 5;
	l.seconds_busy = 5;
	l.overflow_syn = 30;
	l.overflow_ack = 8;
	l.enqueued = 20;
	l.accepted = 20;
	l.peak_accepts_per_s = 4;
	l.hol_wait_us = 2100000;
	l.hol_wait_peak_us = 2400000;
	return l;
}

}  // namespace

TEST(Doctor, NothingToSayIsExitZero)
{
	ListenerObservation l = listener(22, 128);
	l.accept_queue_peak = 1;
	l.accepted = 3;
	l.enqueued = 3;
	Diag d101(input({l}));
	const auto &f = d101.f;
	EXPECT_TRUE(f.empty());
	EXPECT_FALSE(needs_action(f));
}

TEST(Doctor, OverflowSaysAcceptsTooSlowFromTheRates)
{
	Diag d108(input({overflowing()}));
	const auto &f = d108.f;
	auto o = with_id(f, "accept_queue_overflow");
	ASSERT_EQ(o.size(), 1u);
	EXPECT_EQ(o[0]->severity, Severity::critical);
	EXPECT_EQ(evidence(*o[0], "overflow_syn"), 30);
	EXPECT_EQ(evidence(*o[0], "overflow_ack"), 8);
	EXPECT_EQ(evidence(*o[0], "accept_queue_peak"), 9);
	EXPECT_EQ(evidence(*o[0], "hol_wait_peak_us"), 2400000);
	EXPECT_EQ(evidence(*o[0], "accepts_per_s"), 4);
	EXPECT_EQ(evidence(*o[0], "arrivals_per_s"), (20 + 38) / 5.0);
	EXPECT_NE(o[0]->cause.find("does not accept fast enough"), std::string::npos) << o[0]->cause;
	EXPECT_NE(o[0]->evidence_text.find("9 = backlog 8 + 1"), std::string::npos) << o[0]->evidence_text;
	EXPECT_TRUE(needs_action(f));
	EXPECT_EQ(&f.front(), o[0]) << "critical first";
}

TEST(Doctor, OverflowWithAcceptsKeepingUpIsABacklogTooSmallForBursts)
{
	ListenerObservation l = overflowing();
	l.enqueued = 500;
	l.accepted = 500;  // 100/s accepted, (500 + 38) / 5 = 107.6/s arriving: within 10 %
	l.seconds_full = 1;
	l.seconds_busy = 1;
	l.comm = "nginx";
	Diag d131(input({l}));
	auto o = d131.of("accept_queue_overflow");
	ASSERT_EQ(o.size(), 1u);
	EXPECT_NE(o[0]->cause.find("too small for the bursts"), std::string::npos) << o[0]->cause;
	ASSERT_FALSE(o[0]->fix.empty());
	EXPECT_NE(o[0]->fix[0].find("backlog=N"), std::string::npos) << "names nginx's setting: " << o[0]->fix[0];
}

TEST(Doctor, StoppedAcceptorIsNamed)
{
	ListenerObservation l = overflowing();
	l.accepted = 0;
	l.state = "T (stopped)";
	Diag d143(input({l}));
	auto o = d143.of("accept_queue_overflow");
	ASSERT_EQ(o.size(), 1u);
	EXPECT_NE(o[0]->cause.find("accepted nothing"), std::string::npos) << o[0]->cause;
	EXPECT_NE(o[0]->cause.find("T (stopped)"), std::string::npos) << o[0]->cause;
	EXPECT_EQ(o[0]->fix[0], "Resume it: kill -CONT 1234.");
}

TEST(Doctor, FullQueueWithoutOverflowIsAWarning)
{
	ListenerObservation l = listener(8080, 8);
	l.accept_queue_peak = 9;
	l.seconds_full = 1;
	l.accepted = 9;
	Diag d156(input({l}));
	auto o = d156.of("accept_queue_overflow");
	ASSERT_EQ(o.size(), 1u);
	EXPECT_EQ(o[0]->severity, Severity::warning);
}

TEST(Doctor, ClampSeenAtListenIsAWarningNamingTheSysctlAndTheApp)
{
	ListenerObservation l = listener(6379, 128);
	l.comm = "redis-server";
	l.requested_backlog = 511;
	Diag d166(input({l}, 128));
	const auto &f = d166.f;
	auto c = with_id(f, "somaxconn_clamp");
	ASSERT_EQ(c.size(), 1u);
	EXPECT_EQ(c[0]->severity, Severity::warning);
	EXPECT_EQ(evidence(*c[0], "requested_backlog"), 511);
	EXPECT_EQ(evidence(*c[0], "somaxconn"), 128);
	EXPECT_NE(c[0]->fix[0].find("sysctl -w net.core.somaxconn=511"), std::string::npos) << c[0]->fix[0];
	ASSERT_EQ(c[0]->fix.size(), 2u);
	EXPECT_NE(c[0]->fix[1].find("tcp-backlog"), std::string::npos) << c[0]->fix[1];
	EXPECT_TRUE(needs_action(f));
}

TEST(Doctor, BacklogEqualToSomaxconnIsPossiblyClampedAndInfoWithoutPressure)
{
	ListenerObservation l = listener(80, 4096);
	Diag d181(input({l}));
	const auto &f = d181.f;
	auto c = with_id(f, "somaxconn_clamp");
	ASSERT_EQ(c.size(), 1u);
	EXPECT_EQ(c[0]->severity, Severity::info);
	EXPECT_NE(c[0]->title.find("possibly clamped"), std::string::npos);
	EXPECT_FALSE(needs_action(f));

	l.accept_queue_peak = 4097;  // the same, full: a warning
	Diag d189(input({l}));
	c = d189.of("somaxconn_clamp");
	ASSERT_EQ(c.size(), 1u);
	EXPECT_EQ(c[0]->severity, Severity::warning);

	ListenerObservation asked = listener(81, 4096);
	asked.requested_backlog = -1;  // asked for the most: not a clamp
	EXPECT_TRUE(with_id(diagnose(input({asked})), "somaxconn_clamp").empty());
}

TEST(Doctor, AppSettingsByComm)
{
	EXPECT_NE(backlog_setting_for("nginx", "").find("backlog="), std::string::npos);
	EXPECT_NE(backlog_setting_for("haproxy", "").find("backlog"), std::string::npos);
	EXPECT_NE(backlog_setting_for("python3", "/usr/bin/python3 /usr/bin/gunicorn app:app").find("--backlog"),
		  std::string::npos);
	EXPECT_NE(backlog_setting_for("java", "").find("ServerSocket"), std::string::npos);
	EXPECT_EQ(backlog_setting_for("python3", "python3 -m http.server"), "");
}

TEST(Doctor, SynFloodIsToldFromLoad)
{
	ListenerObservation l = listener(8443, 8);
	l.syn_queue_peak = 9;
	l.synack_retrans = 40;
	l.enqueued = 0;
	DoctorInput in = input({l});
	in.netns[kNetns].delta->reqq_full_do_cookies = 55;
	in.netns[kNetns].delta->syncookies_sent = 55;
	Diag d217(in);
	auto s = d217.of("syn_queue_pressure");
	ASSERT_EQ(s.size(), 1u);
	EXPECT_EQ(s[0]->severity, Severity::warning);
	EXPECT_NE(s[0]->cause.find("SYN flood"), std::string::npos) << s[0]->cause;
	EXPECT_EQ(evidence(*s[0], "syncookies_sent"), 55);

	// The same pressure, but the cookies come back: load.
	in.listeners[0].synack_retrans = 2;
	in.listeners[0].enqueued = 60;
	in.netns[kNetns].delta->syncookies_recv = 55;
	Diag d227(in);
	s = d227.of("syn_queue_pressure");
	ASSERT_EQ(s.size(), 1u);
	EXPECT_NE(s[0]->cause.find("looks like load"), std::string::npos) << s[0]->cause;

	// Dropped SYNs (syncookies off) are critical, and the fix turns cookies on.
	in.netns[kNetns].syncookies = 0;
	in.netns[kNetns].delta->reqq_full_drop = 7;
	Diag d234(in);
	s = d234.of("syn_queue_pressure");
	ASSERT_EQ(s.size(), 1u);
	EXPECT_EQ(s[0]->severity, Severity::critical);
	EXPECT_NE(s[0]->fix[0].find("tcp_syncookies=1"), std::string::npos) << s[0]->fix[0];
}

TEST(Doctor, SyncookiesTwoIsNotPressure)
{
	DoctorInput in = input({listener(8443, 8)});
	in.netns[kNetns].syncookies = 2;
	in.netns[kNetns].delta->syncookies_sent = 10;
	in.netns[kNetns].delta->reqq_full_do_cookies = 10;
	auto f = diagnose(in);
	auto s = with_id(f, "syn_queue_pressure");
	ASSERT_EQ(s.size(), 1u);
	EXPECT_EQ(s[0]->severity, Severity::info);
	EXPECT_FALSE(needs_action(f));
}

TEST(Doctor, AbortOnOverflowResettingClientsIsCritical)
{
	ListenerObservation l = listener(8080, 1);
	l.overflow_ack = 3;
	DoctorInput in = input({l});
	in.netns[kNetns].abort_on_overflow = 1;
	in.netns[kNetns].delta->embryonic_rsts = 3;
	Diag d260(in);
	auto a = d260.of("abort_on_overflow");
	ASSERT_EQ(a.size(), 1u);
	EXPECT_EQ(a[0]->severity, Severity::critical);
	EXPECT_EQ(evidence(*a[0], "resets"), 3);
	ASSERT_EQ(a[0]->listeners.size(), 1u);

	in.netns[kNetns].delta->embryonic_rsts = 0;
	Diag d267(in);
	a = d267.of("abort_on_overflow");
	ASSERT_EQ(a.size(), 1u);
	EXPECT_EQ(a[0]->severity, Severity::info);
}

TEST(Doctor, ReuseportMemberFullWhileOthersIdle)
{
	ListenerObservation a = listener(443, 16), b = listener(443, 16), c = listener(443, 16);
	a.accept_queue_peak = 17;
	a.overflow_ack = 12;
	a.pid = 10;
	b.pid = 11;
	b.accepted = 50;
	c.pid = 12;
	c.accept_queue_peak = 1;
	c.accepted = 48;
	Diag d283(input({a, b, c}));
	auto r = d283.of("reuseport_imbalance");
	ASSERT_EQ(r.size(), 1u);
	EXPECT_EQ(r[0]->severity, Severity::warning);
	EXPECT_EQ(evidence(*r[0], "members"), 3);
	EXPECT_EQ(evidence(*r[0], "members_full"), 1);
	EXPECT_EQ(evidence(*r[0], "members_idle"), 2);
	ASSERT_EQ(r[0]->listeners.size(), 3u);
	EXPECT_EQ(r[0]->listeners[0]->pid, 10u) << "the fullest first";

	b.accept_queue_peak = c.accept_queue_peak = 15;  // all busy: balanced, only full
	EXPECT_TRUE(with_id(diagnose(input({a, b, c})), "reuseport_imbalance").empty());
}

TEST(Doctor, TcpDiagMissingIsInfo)
{
	DoctorInput in = input({listener(22, 128)});
	in.tcp_diag = false;
	in.tcp_diag_detail = "inet_diag: No such file or directory";
	auto f = diagnose(in);
	auto t = with_id(f, "tcp_diag_missing");
	ASSERT_EQ(t.size(), 1u);
	EXPECT_EQ(t[0]->severity, Severity::info);
	EXPECT_NE(t[0]->fix[0].find("listenq ss"), std::string::npos);
	EXPECT_FALSE(needs_action(f));
}

TEST(Doctor, BacklogBelowRateTimesWait)
{
	ListenerObservation l = listener(8080, 16);
	l.peak_accepts_per_s = 40;
	l.accepted = 60;
	l.hol_wait_peak_us = 1500000;  // 40/s x 1.5 s = 60 > 17
	Diag d315(input({l}));
	auto b = d315.of("backlog_below_demand");
	ASSERT_EQ(b.size(), 1u);
	EXPECT_EQ(evidence(*b[0], "connections_waiting"), 60);
	EXPECT_NE(b[0]->fix[0].find("at least 128"), std::string::npos) << b[0]->fix[0];

	l.hol_wait_peak_us = 400000;  // 16 fits in 17
	EXPECT_TRUE(with_id(diagnose(input({l})), "backlog_below_demand").empty());
}

// Each named threshold of src/doctor/findings.cpp (kT), on both sides of
// its edge: a change of one moves exactly the case here that names it.
TEST(Doctor, ThresholdsAtTheirEdges)
{
	auto cause_of = [](const ListenerObservation &l) {
		Diag d(input({l}));
		auto f = d.of("accept_queue_overflow");
		return f.size() == 1 ? f[0]->cause : std::string("no finding");
	};
	// busy 3 of 4 intervals (and accepting under 90 % of the attempts): at capacity.
	ListenerObservation l = overflowing();  // 20 accepted of 20 + 38 attempts
	l.seconds = 4;
	l.seconds_busy = 3;
	EXPECT_NE(cause_of(l).find("does not accept fast enough"), std::string::npos) << cause_of(l);
	l.seconds_busy = 2;
	EXPECT_NE(cause_of(l).find("too small for the bursts"), std::string::npos) << cause_of(l);
	// slow_accept_share 0.9: 80 or 82 accepted of 52 + 38 = 90 attempts.
	l.seconds_busy = 4;
	l.enqueued = 52;
	l.accepted = 80;
	EXPECT_NE(cause_of(l).find("does not accept fast enough"), std::string::npos) << cause_of(l);
	l.accepted = 82;
	EXPECT_NE(cause_of(l).find("too small for the bursts"), std::string::npos) << cause_of(l);

	// SYN queue: flood_min 8, cookies_back_one_in 5, completed_one_in 4.
	auto syn_cause = [](std::uint64_t sent, std::uint64_t recv, std::uint64_t retrans, std::optional<std::uint64_t> completed) {
		ListenerObservation s = listener(8443, 8);
		s.syn_queue_peak = 9;
		s.synack_retrans = retrans;
		s.enqueued = completed;
		DoctorInput in = input({s});
		in.netns[kNetns].delta->reqq_full_do_cookies = sent;
		in.netns[kNetns].delta->syncookies_sent = sent;
		in.netns[kNetns].delta->syncookies_recv = recv;
		Diag d(in);
		auto f = d.of("syn_queue_pressure");
		return f.size() == 1 ? f[0]->cause : std::string("no finding");
	};
	EXPECT_NE(syn_cause(8, 1, 0, std::nullopt).find("SYN flood"), std::string::npos);
	EXPECT_NE(syn_cause(7, 1, 0, std::nullopt).find("looks like load"), std::string::npos) << "under flood_min";
	EXPECT_NE(syn_cause(8, 2, 0, std::nullopt).find("looks like load"), std::string::npos) << "2 of 8 came back";
	EXPECT_NE(syn_cause(0, 0, 8, 1).find("SYN flood"), std::string::npos);
	EXPECT_NE(syn_cause(0, 0, 8, 2).find("looks like load"), std::string::npos) << "2 handshakes per 8 retransmits";
	EXPECT_NE(syn_cause(0, 0, 7, 1).find("looks like load"), std::string::npos) << "under flood_min";
	EXPECT_NE(syn_cause(0, 0, 8, 0).find("SYN flood"), std::string::npos);
	EXPECT_NE(syn_cause(0, 0, 2, 0).find("Too few handshakes"), std::string::npos);

	// reuseport idle_peak_den 2: a member with a peak of 8 of 16 has room, 9 not.
	ListenerObservation a = listener(443, 16), b = listener(443, 16);
	a.accept_queue_peak = 17;
	a.overflow_ack = 1;
	b.pid = 11;
	b.accept_queue_peak = 8;
	EXPECT_EQ(with_id(diagnose(input({a, b})), "reuseport_imbalance").size(), 1u);
	b.accept_queue_peak = 9;
	EXPECT_TRUE(with_id(diagnose(input({a, b})), "reuseport_imbalance").empty());

	// demand_min_accepts_per_s 1, headroom 2: 1/s x 20 s = 20 places > 17,
	// sized 2 x 20 = 40 -> 64; 0.9/s is too few to size from.
	ListenerObservation d = listener(8080, 16);
	d.accepted = 5;
	d.peak_accepts_per_s = 1;
	d.hol_wait_peak_us = 20000000;
	Diag dd(input({d}));
	auto demand = dd.of("backlog_below_demand");
	ASSERT_EQ(demand.size(), 1u);
	EXPECT_NE(demand[0]->fix[0].find("at least 64"), std::string::npos) << demand[0]->fix[0];
	d.peak_accepts_per_s = 0.9;
	d.hol_wait_peak_us = 40000000;
	EXPECT_TRUE(with_id(diagnose(input({d})), "backlog_below_demand").empty());
}

TEST(Doctor, TextAndJsonRender)
{
	ListenerObservation l = overflowing();
	l.requested_backlog = 8;
	DoctorInput in = input({l});
	in.netns[kNetns].delta->listen_overflows = 38;
	in.tcp_diag = false;
	in.tcp_diag_detail = "emulated: --emulate-no-tcp-diag";
	auto f = diagnose(in);
	std::ostringstream text;
	render_doctor_text(text, in, f);
	expect_golden("doctor_overflow.txt", text.str());
	for (const std::string &line : [&] {
		     std::vector<std::string> v;
		     std::istringstream is(text.str());
		     for (std::string s; std::getline(is, s);)
			     v.push_back(s);
		     return v;
	     }())
		EXPECT_LE(line.size(), 79u) << line;
	expect_golden("doctor_overflow.json", doctor_json(in, f).dump(2) + "\n");
}

// Per workload: a pod named by its runtime's state, a container known only
// by its id, the host; the rows count listeners, findings that name one of
// theirs, and overflows; the most critical first. Shown only once a pod or
// a container owns a listener.
TEST(Doctor, WorkloadSummaryNamesPodsAndContainers)
{
	ListenerObservation pod = overflowing();
	pod.cgroup = CgroupInfo{};
	pod.cgroup->path = "/kubepods/burstable/pod5f0c2a1e/8555";
	pod.cgroup->container_id = std::string(64, 'a');
	pod.cgroup->pod = "web-7d9f8b6c5-x2x4z";
	pod.cgroup->pod_namespace = "shop";
	pod.cgroup->container = "front";
	ListenerObservation box = listener(6379, 511);
	box.id.cookie = 77;
	box.cgroup = CgroupInfo{};
	box.cgroup->path = "/system.slice/docker-bbbb.scope";
	box.cgroup->container_id = std::string(64, 'b');
	ListenerObservation host = listener(22, 128);
	host.id.cookie = 78;
	DoctorInput in = input({host, box, pod});
	auto f = diagnose(in);
	std::ostringstream text;
	render_doctor_text(text, in, f);
	const std::string t = text.str();
	const std::size_t at = t.find("By workload:\n");
	ASSERT_NE(at, std::string::npos) << t;
	std::istringstream rows(t.substr(at));
	std::vector<std::string> lines;
	for (std::string line; std::getline(rows, line) && !line.empty();)
		lines.push_back(line);
	ASSERT_EQ(lines.size(), 5u) << t;
	EXPECT_NE(lines[1].find("Workload"), std::string::npos) << lines[1];
	EXPECT_EQ(lines[2].rfind("  pod shop/web-7d9f8b6c5-x2x4z ", 0), 0u) << lines[2];
	EXPECT_NE(lines[2].find(" 1 "), std::string::npos) << lines[2];
	EXPECT_NE(lines[2].find(std::to_string(pod.overflow_syn + pod.overflow_ack)), std::string::npos) << lines[2];
	EXPECT_EQ(lines[3].rfind("  container bbbbbbbbbbbb ", 0), 0u) << lines[3];
	EXPECT_EQ(lines[4].rfind("  host ", 0), 0u) << lines[4];

	const auto j = doctor_json(in, f);
	ASSERT_EQ(j["workloads"].size(), 3u);
	EXPECT_EQ(j["workloads"][0]["kind"], "pod");
	EXPECT_EQ(j["workloads"][0]["name"], "web-7d9f8b6c5-x2x4z");
	EXPECT_EQ(j["workloads"][0]["namespace"], "shop");
	EXPECT_GE(j["workloads"][0]["critical"].get<int>(), 1);
	EXPECT_EQ(j["workloads"][2]["kind"], "host");
	EXPECT_TRUE(j["workloads"][2]["name"].is_null());

	// No container or pod: no summary in the text.
	DoctorInput bare = input({listener(22, 128)});
	std::ostringstream plain;
	render_doctor_text(plain, bare, diagnose(bare));
	EXPECT_EQ(plain.str().find("By workload"), std::string::npos) << plain.str();
}
