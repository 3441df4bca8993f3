// Tracer records -> model, interval arithmetic, trace/watch renderers.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>
#include <sstream>

#include "bpf/trace_decode.h"
#include "golden.h"
#include "listenq/abi.h"
#include "render/hist_render.h"
#include "probe_capture.h"
#include "render/probe_render.h"
#include "render/trace_render.h"

using namespace listenq;
using namespace listenq::testing;

namespace {

lq_event make_event(std::uint32_t type)
{
	lq_event e{};
	e.ts_ns = 2'500'000'000ULL;
	e.cookie = 77;
	e.netns = 4026532177u;
	e.tgid = 1234;
	std::strcpy(e.comm, "server");
	inet_pton(AF_INET, "127.0.0.1", e.addr);
	e.family = AF_INET;
	e.port = 8080;
	e.type = type;
	e.requested = 100000;
	e.effective = 4096;
	e.prev_effective = 50;
	e.queue = 3;
	return e;
}

std::vector<std::uint8_t> bytes_of(const lq_event &e)
{
	std::vector<std::uint8_t> b(sizeof(e));
	std::memcpy(b.data(), &e, sizeof(e));
	return b;
}

TEST(TraceDecode, EventFields)
{
	auto t = decode_event(bytes_of(make_event(LQ_EV_RELISTEN)));
	ASSERT_TRUE(t) << t.error().message;
	EXPECT_EQ(t->type, EventType::relisten);
	EXPECT_EQ(t->pid, 1234u);
	EXPECT_EQ(t->comm, "server");
	EXPECT_EQ(format_address(t->where.family, t->where.addr), "127.0.0.1");
	EXPECT_EQ(t->where.port, 8080);
	EXPECT_EQ(t->requested, 100000);
	EXPECT_EQ(t->effective, 4096u);
	EXPECT_EQ(t->prev_effective, 50u);
	EXPECT_EQ(t->where.accept_queue, 3u);
}

TEST(TraceDecode, UnknownRequestedBacklogIsNullopt)
{
	lq_event e = make_event(LQ_EV_LISTEN);
	e.requested = LQ_BACKLOG_UNKNOWN;
	auto t = decode_event(bytes_of(e));
	ASSERT_TRUE(t);
	EXPECT_FALSE(t->requested);
}

TEST(TraceDecode, BadRecordsAreErrors)
{
	auto b = bytes_of(make_event(LQ_EV_LISTEN));
	b.pop_back();
	EXPECT_FALSE(decode_event(b));
	auto bad = decode_event(bytes_of(make_event(99)));
	ASSERT_FALSE(bad);
	EXPECT_NE(bad.error().message.find("unknown type 99"), std::string::npos);
}

TEST(TraceDecode, ListenerState)
{
	lq_listener_key k{42, 4026532177u, 0};
	lq_listener_state st{};
	inet_pton(AF_INET6, "::1", st.addr);
	st.family = AF_INET6;
	st.port = 5432;
	st.owner_tgid = 99;
	std::strcpy(st.owner_comm, "postgres");
	st.requested_backlog = LQ_BACKLOG_UNKNOWN;
	st.effective_backlog = 9;
	st.accept_queue = 2;
	st.accept_queue_peak = 1;  // stale peak below now: now wins
	st.flags = LQ_F_SEEDED;
	st.overflow_syn = 3;
	st.wait_hist[4] = 7;
	st.synq_full_drops = 4;
	st.synq_full_cookies = 5;
	st.syncookies_sent = 6;
	ListenerStat s = listener_stat_from(k, st);
	EXPECT_EQ(s.id.cookie, 42u);
	EXPECT_EQ(format_address(s.id.family, s.id.addr), "::1");
	EXPECT_EQ(s.owner_comm, "postgres");
	EXPECT_FALSE(s.requested_backlog);
	EXPECT_TRUE(s.seeded);
	EXPECT_EQ(s.accept_queue_peak, 2u);
	EXPECT_EQ(s.overflow_syn, 3u);
	EXPECT_EQ(s.wait_hist[4], 7u);
	EXPECT_EQ(s.synq_full_drops, 4u);
	EXPECT_EQ(s.synq_full_cookies, 5u);
	EXPECT_EQ(s.syncookies_sent, 6u);

	// Pointer keys (the kprobe walk: no cookies): an identity, never shown.
	k.cookie = 0xffff888012345678ULL;
	ListenerStat p = listener_stat_from(k, st, /*ptr_keys=*/true);
	EXPECT_EQ(p.id.cookie, 0u);
	EXPECT_EQ(p.key, 0xffff888012345678ULL);
	EXPECT_EQ(listener_stat_from(k, st).key, p.key);
}

// The busy pass reads an idle listener every few seconds: the samples
// since its last read saw it empty, in the count and the depth histogram's
// first slot (where the histogram counts samples), never for a listener
// read at this tick or never read.
TEST(TraceDecode, UnreadSamplesOfAnIdleListenerCountAsEmpty)
{
	lq_listener_key k{42, 4026532177u, 0};
	lq_listener_state st{};
	st.family = AF_INET;
	st.samples = 10;
	st.depth_hist[0] = 8;
	st.depth_hist[2] = 2;
	st.last_tick = 100;
	ListenerStat s = listener_stat_from(k, st);
	add_unread_samples(s, st, 130, true);
	EXPECT_EQ(s.samples, 40u);
	EXPECT_EQ(s.depth_hist[0], 38u);
	EXPECT_EQ(s.depth_hist[2], 2u);
	ListenerStat by_enqueue = listener_stat_from(k, st);
	add_unread_samples(by_enqueue, st, 130, false);
	EXPECT_EQ(by_enqueue.samples, 40u);
	EXPECT_EQ(by_enqueue.depth_hist[0], 8u) << "tiers 1-2 count depth at enqueue: no samples in it";
	ListenerStat now = listener_stat_from(k, st);
	add_unread_samples(now, st, 100, true);
	EXPECT_EQ(now.samples, 10u) << "read at this tick";
	st.last_tick = 0;
	ListenerStat never = listener_stat_from(k, st);
	add_unread_samples(never, st, 130, true);
	EXPECT_EQ(never.samples, 10u) << "never read by the busy pass: nothing known";
}

TEST(TraceDecode, PointerKeyedEventShowsNoCookie)
{
	lq_event e{};
	e.type = LQ_EV_LISTEN;
	e.cookie = 0xffff888012345678ULL;
	e.family = AF_INET;
	e.port = 80;
	const auto *b = reinterpret_cast<const std::uint8_t *>(&e);
	auto shown = decode_event({b, sizeof(e)}, /*ptr_keys=*/true);
	ASSERT_TRUE(shown) << shown.error().message;
	EXPECT_EQ(shown->cookie, 0u);
	EXPECT_EQ(shown->where.cookie, 0u);
	auto plain = decode_event({b, sizeof(e)});
	ASSERT_TRUE(plain);
	EXPECT_EQ(plain->cookie, e.cookie);
}

ListenerStat stat(std::uint64_t cookie, std::uint16_t port, std::uint32_t peak, std::uint32_t backlog)
{
	ListenerStat s;
	s.id.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", s.id.addr.data());
	s.id.port = port;
	s.id.cookie = cookie;
	s.key = cookie;
	s.id.netns = 1;
	s.owner_pid = 10;
	s.owner_comm = "srv";
	s.requested_backlog = static_cast<std::int32_t>(backlog);
	s.backlog = backlog;
	s.accept_queue = peak;
	s.accept_queue_peak = peak;
	return s;
}

TEST(WatchInterval, DeltasRatesAndPressureOrder)
{
	ListenerStat a0 = stat(1, 80, 0, 128), b0 = stat(2, 81, 0, 4);
	a0.accepted = 100;
	b0.overflow_syn = 5;
	ListenerStat a1 = a0, b1 = b0;
	a1.accepted = 160;
	a1.accept_queue_peak = 10;
	b1.overflow_syn = 12;
	b1.overflow_ack = 1;
	b1.accept_queue_peak = 5;  // full: 5 of 4+1
	IntervalBases prev;
	interval_bases(std::vector<ListenerStat>{a0, b0}, prev);
	EXPECT_EQ(prev.keys.size(), 2u);
	EXPECT_EQ(prev.counted.size(), 2u);  // both have counts
	const std::vector<ListenerStat> now = {a1, b1, stat(3, 82, 0, 10)};
	auto rows = compute_interval(prev, now, 2.0);
	ASSERT_EQ(rows.size(), 3u);
	EXPECT_EQ(rows[0].now->id.port, 81);  // highest pressure first
	EXPECT_EQ(rows[0].overflow_syn, 7u);
	EXPECT_EQ(rows[0].overflow_ack, 1u);
	EXPECT_EQ(rows[1].now->id.port, 80);
	EXPECT_EQ(rows[1].accepts, 60u);
	EXPECT_DOUBLE_EQ(rows[1].accepts_per_s, 30.0);
	EXPECT_TRUE(rows[2].is_new);
	EXPECT_FALSE(rows[1].is_new);
	EXPECT_FALSE(rows[2].wait_p50_us);  // no waits measured in tier 3

	// An idle listener keeps no base, yet is not new the next frame.
	interval_bases(now, prev);
	EXPECT_EQ(prev.keys.size(), 3u);
	EXPECT_EQ(prev.counted.size(), 2u);
	rows = compute_interval(prev, now, 1.0, [](const ListenerStat &s) { return s.id.port != 81; });
	ASSERT_EQ(rows.size(), 2u);  // the filter leaves 81 out
	for (const WatchRow &r : rows) {
		EXPECT_FALSE(r.is_new);
		EXPECT_EQ(r.accepts, 0u);
	}
}

TEST(WatchInterval, WaitPercentilesOfTheInterval)
{
	ListenerStat a0 = stat(1, 80, 0, 128);
	a0.wait_hist[3] = 100;
	ListenerStat a1 = a0;
	a1.wait_hist[10] = 10;  // this interval: 10 waits of 1024 us
	IntervalBases prev;
	interval_bases(std::vector<ListenerStat>{a0}, prev);
	const std::vector<ListenerStat> now = {a1};
	auto rows = compute_interval(prev, now, 1.0);
	ASSERT_EQ(rows.size(), 1u);
	EXPECT_EQ(rows[0].wait_p50_us, 1024.0);
}

TEST(SparseHist, EmptyUntilWritten)
{
	SparseHist h;
	EXPECT_TRUE(h.empty());
	EXPECT_EQ(h[5], 0u);
	const Log2Hist &z = h;
	EXPECT_EQ(z[5], 0u);
	h[5] = 2;
	EXPECT_FALSE(h.empty());
	SparseHist c = h;
	EXPECT_EQ(c[5], 2u);
	c.assign(Log2Hist{});
	EXPECT_TRUE(c.empty());
	EXPECT_EQ(h.get()[5], 2u);
}

TEST(WatchInterval, Percentiles)
{
	Log2Hist h{};
	EXPECT_FALSE(hist_percentile(h, 0.5));
	h[3] = 90;  // 8 us
	h[10] = 10; // 1024 us
	EXPECT_EQ(hist_percentile(h, 0.5), 8.0);
	EXPECT_EQ(hist_percentile(h, 0.99), 1024.0);
}

// Tier 3 on the 6.18 host that refuses iter/bpf_sk_storage_map (its
// captured probe): the ACK path by kfree_skb reason, the SYN path from the
// netns counters, full iter/tcp passes.
// syscalls: trace's default; watch, hist and export run without them.
TraceHeader header(bool syscalls = false)
{
	auto doc = nlohmann::ordered_json::parse(read_fixture_text("probe_host_6.18_v857.json"));
	const Plan p = make_plan(*features_from_probe_json(doc), AttachMode::automatic, {}, syscalls);
	return TraceHeader::of(p, {"tp_btf/inet_sock_set_state", "iter/tcp"}, 100);
}

TEST(TraceRender, TextLinesAndJson)
{
	std::ostringstream os;
	render_trace_header_text(os, header(true));
	for (auto type : {LQ_EV_LISTEN, LQ_EV_RELISTEN, LQ_EV_CLAMP, LQ_EV_CLOSE, LQ_EV_OVERFLOW}) {
		lq_event e = make_event(type);
		e.overflow_path = type == LQ_EV_OVERFLOW ? 1 : 0;
		e.accepted = 11;
		e.overflows = 2;
		render_trace_event_text(os, *decode_event(bytes_of(e)), 2'000'000'000ULL);
	}
	expect_golden("trace.txt", os.str());
	auto j = trace_event_json(*decode_event(bytes_of(make_event(LQ_EV_RELISTEN))));
	EXPECT_EQ(j["event"], "relisten");
	EXPECT_EQ(j["prev_backlog"], 50);
	EXPECT_TRUE(j["accepted"].is_null());
	EXPECT_EQ(trace_header_json(header(true))["schema"], "listenq.trace/1");
}

TEST(TraceRender, WatchTextAndJson)
{
	ListenerStat a = stat(1, 8080, 5, 4);
	a.syn_queue_peak = 2;
	a.overflow_syn = 15;
	a.accepted = 5;
	a.hol_wait_us = 1500000;  // a stopped acceptor: its oldest connection waits
	a.hol_wait_peak_us = 2250000;
	WatchFrame f;
	f.header = header();
	f.interval_s = 1.0;
	f.seq = 3;
	const std::vector<ListenerStat> ls = {a, stat(2, 22, 0, 128)};
	f.rows = compute_interval({}, ls, 1.0);
	std::ostringstream os;
	render_watch_text(os, f);
	expect_golden("watch.txt", os.str());
	std::istringstream in(os.str());
	for (std::string line; std::getline(in, line);)
		EXPECT_LE(line.size(), 80u) << line;
	expect_golden("watch.json", watch_frame_json(f).dump(2) + "\n");

	// A count the tier cannot measure is null, not 0 (tier 3 before 6.15:
	// no kfree_skb reason, ListenOverflows cannot be split by path).
	WatchFrame old = f;
	old.header.fields.set(TraceField::overflow_ack, Provenance::not_measured);
	auto j = watch_frame_json(old);
	EXPECT_TRUE(j["listeners"][0]["total"]["overflow_ack"].is_null());
	EXPECT_TRUE(j["listeners"][0]["interval"]["overflow_ack"].is_null());
	EXPECT_EQ(j["listeners"][0]["total"]["synq_full_drops"], 0);
	std::ostringstream old_text;
	render_watch_text(old_text, old);
	EXPECT_NE(old_text.str().find("    15     - "), std::string::npos) << old_text.str();
	// Netns counts no single listener could be given are shown, never dropped.
	f.unattributed = {{4026532177u, {1, 2, 3, 4}, 2}};
	std::ostringstream un;
	render_watch_text(un, f);
	EXPECT_NE(un.str().find("netns 4026532177 not attributed (2 listeners under SYN pressure):"), std::string::npos)
		<< un.str();
	EXPECT_EQ(watch_frame_json(f)["unattributed"][0]["synq_full_cookies"], 3);
	f.unattributed.clear();
	// With an exact tcp_conn_request hook (tiers 1-2) they are counts.
	WatchFrame k = f;
	k.header.tier = "kprobe";
	k.header.fields = FieldSources{};  // all exact
	a.synq_full_drops = 7;
	a.syncookies_sent = 3;
	const std::vector<ListenerStat> ka = {a};
	k.rows = compute_interval({}, ka, 1.0);
	auto kj = watch_frame_json(k);
	EXPECT_EQ(kj["listeners"][0]["total"]["synq_full_drops"], 7);
	EXPECT_EQ(kj["listeners"][0]["interval"]["synq_full_drops"], 7);
	EXPECT_EQ(kj["listeners"][0]["interval"]["syncookies_sent"], 3);
	EXPECT_EQ(kj["listeners"][0]["total"]["synq_full_cookies"], 0);
	EXPECT_EQ(kj["tier"], "kprobe");

	// watch writes the frame listener by listener: the same bytes.
	std::ostringstream streamed;
	write_watch_frame_json(streamed, f);
	EXPECT_EQ(streamed.str(), watch_frame_json(f).dump());
	WatchFrame empty = f;
	empty.rows.clear();
	std::ostringstream none;
	write_watch_frame_json(none, empty);
	EXPECT_EQ(none.str(), watch_frame_json(empty).dump());
}

}  // namespace

namespace {

TEST(HistRender, Log2LikeBcc)
{
	ListenerStat s = stat(1, 8080, 3, 16);
	s.depth_hist[0] = 1;
	s.depth_hist[1] = 2;
	s.depth_hist[3] = 10;
	std::ostringstream os;
	render_hist_text(os, header(), {s});
	expect_golden("hist.txt", os.str());
	std::istringstream in(os.str());
	for (std::string line; std::getline(in, line);)
		EXPECT_LE(line.size(), 80u) << line;
	auto j = hist_json(header(), {s});
	EXPECT_EQ(j["schema"], "listenq.hist/1");
	const auto &b = j["listeners"][0]["depth"]["buckets"];
	ASSERT_EQ(b.size(), 4u);
	EXPECT_EQ(b[3]["low"], 8);
	EXPECT_EQ(b[3]["high"], 15);
	EXPECT_EQ(b[3]["count"], 10);
	EXPECT_TRUE(j["listeners"][0]["accept_wait_us"].is_null());
	EXPECT_TRUE(log2_hist_json(Log2Hist{}).empty());
}

// Same address and port in two netns (containers): a NETNS column leads,
// and only then, so that one-netns output keeps its width.
TEST(TraceRender, WatchTextNamesTheNetnsWhenRowsSpanSeveral)
{
	ListenerStat host = stat(1, 8080, 1, 3), container = stat(2, 8080, 2, 7);
	container.id.netns = 4026532999;
	WatchFrame f;
	f.header = header();
	f.interval_s = 1.0;
	const std::vector<ListenerStat> both = {host, container}, only_host = {host};
	f.rows = compute_interval({}, both, 1.0);
	std::ostringstream os;
	render_watch_text(os, f);
	const std::string text = os.str();
	EXPECT_NE(text.find("\nNETNS      ADDR:PORT"), std::string::npos) << text;
	EXPECT_NE(text.find("\n4026532999 127.0.0.1:8080"), std::string::npos) << text;
	EXPECT_NE(text.find("\n1          127.0.0.1:8080"), std::string::npos) << text;
	f.rows = compute_interval({}, only_host, 1.0);
	std::ostringstream one;
	render_watch_text(one, f);
	EXPECT_EQ(one.str().find("NETNS"), std::string::npos);
}

// Piped watch prints the legend (sampled, not measured, ...) once: the
// second frame has the status line and the table only.
TEST(TraceRender, WatchLegendCanBeLeftOut)
{
	WatchFrame f;
	f.header = header();
	f.header.not_used = {"kprobe: no kprobe PMU"};
	f.interval_s = 1.0;
	const std::vector<ListenerStat> ls = {stat(1, 8080, 1, 3)};
	f.rows = compute_interval({}, ls, 1.0);
	std::ostringstream with, without;
	render_watch_text(with, f);
	f.legend = false;
	render_watch_text(without, f);
	for (const char *line : {"sampled every", "from netns counters:", "hooks not in use:", "refused:"}) {
		EXPECT_NE(with.str().find(line), std::string::npos) << line;
		EXPECT_EQ(without.str().find(line), std::string::npos) << line;
	}
	EXPECT_EQ(without.str().rfind("listenq watch: tier ", 0), 0u);
	EXPECT_NE(without.str().find("\nADDR:PORT"), std::string::npos) << without.str();
}

}  // namespace
