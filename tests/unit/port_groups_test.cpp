// export at scale: --port allow-lists, ephemeral port ranges, sums by port
// whose counters never go back, --top.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include "model/port_groups.h"

using namespace listenq;

namespace {

ListenerStat member(std::uint64_t key, std::uint16_t port, std::uint32_t netns = 1)
{
	ListenerStat s;
	s.key = s.id.cookie = key;
	s.id.family = AF_INET;
	s.id.port = port;
	s.id.netns = netns;
	s.backlog = 100;
	return s;
}

const PortGroup *group(const std::vector<PortGroup> &gs, std::uint16_t port, bool ephemeral = false)
{
	for (const PortGroup &g : gs)
		if (g.port == port && g.ephemeral == ephemeral)
			return &g;
	return nullptr;
}

auto fold_above(std::uint16_t lo)
{
	return [lo](const ListenerStat &l) { return l.id.port >= lo; };
}

TEST(PortSet, ListsAndRanges)
{
	auto s = parse_port_set("80, 443,8000-8099");
	ASSERT_TRUE(s) << s.error().message;
	for (std::uint16_t p : {80, 443, 8000, 8099})
		EXPECT_TRUE(s->contains(p)) << p;
	for (std::uint16_t p : {1, 79, 81, 7999, 8100, 65535})
		EXPECT_FALSE(s->contains(p)) << p;
	EXPECT_TRUE(parse_port_set("1-65535")->contains(65535));
	for (const char *bad : {"", " ", "0", "65536", "http", "80-", "-80", "90-80", "80,,x", "8o", "1-2-3"})
		EXPECT_FALSE(parse_port_set(bad)) << bad;
	EXPECT_EQ(parse_port_set("80,http").error().message, "\"http\" is not a port (1-65535) or a range LO-HI");
}

TEST(PortRange, SysctlText)
{
	EXPECT_EQ(parse_port_range("32768\t60999\n"), (PortRange{32768, 60999}));
	EXPECT_EQ(parse_port_range("1024 65000"), (PortRange{1024, 65000}));
	for (const char *bad : {"", "32768", "60999\t32768\n", "a b", "1 70000"})
		EXPECT_FALSE(parse_port_range(bad)) << bad;
	EXPECT_TRUE((PortRange{}).contains(32768));
	EXPECT_FALSE((PortRange{}).contains(61000));
}

// A reuseport group and the same port in two netns are one row; ephemeral
// ports fold into one; gauges sum, head-of-line waits take the maximum.
TEST(PortAggregator, SumsByPortAndFoldsEphemeralPorts)
{
	std::vector<ListenerStat> ls = {member(1, 443), member(2, 443), member(3, 443, 2), member(4, 80),
					member(5, 40000), member(6, 50000)};
	ls[0].accept_queue = 3, ls[0].accept_queue_peak = 90, ls[0].hol_wait_us = 10, ls[0].hol_wait_peak_us = 50;
	ls[1].accept_queue = 4, ls[1].hol_wait_us = 30, ls[1].hol_wait_peak_us = 40;
	ls[2].overflow_syn = 5, ls[2].drops = 6, ls[2].syn_queue = 7;
	PortAggregator agg;
	auto gs = agg.aggregate(ls, fold_above(32768), false);
	ASSERT_EQ(gs.size(), 3u);
	EXPECT_EQ(gs[0].port, 80);
	EXPECT_EQ(gs[1].port, 443);
	EXPECT_TRUE(gs[2].ephemeral) << "the folded row comes last";
	const PortGroup &https = gs[1];
	EXPECT_EQ(https.listeners, 3u);
	EXPECT_EQ(https.sum.accept_queue, 7u);
	EXPECT_EQ(https.sum.backlog, 300u);
	EXPECT_EQ(https.sum.syn_queue, 7u);
	EXPECT_EQ(https.sum.hol_wait_us, 30u);
	EXPECT_EQ(https.sum.hol_wait_peak_us, 50u);
	EXPECT_EQ(https.sum.overflow_syn, 5u);
	EXPECT_EQ(https.sum.drops, 6u);
	EXPECT_DOUBLE_EQ(https.pressure, 90.0 / 101.0) << "the hottest member's";
	EXPECT_EQ(gs[2].listeners, 2u);
	EXPECT_EQ(agg.members(), 6u);
}

// A member that goes (a reuseport sibling closes, an ephemeral listener
// ends) leaves its counts: the group's counters never go back. A group
// with no member left is forgotten.
TEST(PortAggregator, CountersNeverGoBackWhenMembersLeave)
{
	std::vector<ListenerStat> ls = {member(1, 443), member(2, 443), member(3, 40000), member(4, 40001)};
	ls[0].overflow_syn = 10, ls[1].overflow_syn = 20, ls[1].overflow_ack = 2, ls[1].drops = 7;
	ls[1].wait_hist[3] = 4, ls[1].accepted = 9;
	ls[2].overflow_syn = 1, ls[3].overflow_syn = 1;
	PortAggregator agg;
	auto gs = agg.aggregate(ls, fold_above(32768), true);
	EXPECT_EQ(group(gs, 443)->sum.overflow_syn, 30u);

	// 2 closes; 1 goes on counting; a new member 5 starts from 0; the
	// ephemeral listener 3 ends and 6 comes.
	std::vector<ListenerStat> next = {member(1, 443), member(5, 443), member(4, 40001), member(6, 45000)};
	next[0].overflow_syn = 11, next[1].overflow_syn = 1;
	next[2].overflow_syn = 1, next[3].overflow_syn = 3;
	gs = agg.aggregate(next, fold_above(32768), true);
	const PortGroup *https = group(gs, 443);
	ASSERT_TRUE(https);
	EXPECT_EQ(https->listeners, 2u);
	EXPECT_EQ(https->sum.overflow_syn, 11u + 1u + 20u);
	EXPECT_EQ(https->sum.overflow_ack, 2u);
	EXPECT_EQ(https->sum.drops, 7u);
	EXPECT_EQ(https->sum.accepted, 9u);
	EXPECT_EQ(https->sum.wait_hist[3], 4u) << "the histogram is a counter too";
	EXPECT_EQ(group(gs, 0, true)->sum.overflow_syn, 1u + 3u + 1u);

	// Every member of 443 gone: the row goes; when 443 comes back it
	// starts again (a new series for Prometheus, like a re-opened listener).
	gs = agg.aggregate({member(4, 40001)}, fold_above(32768), true);
	EXPECT_FALSE(group(gs, 443));
	gs = agg.aggregate({member(4, 40001), member(7, 443)}, fold_above(32768), true);
	ASSERT_TRUE(group(gs, 443));
	EXPECT_EQ(group(gs, 443)->sum.overflow_syn, 0u);
}

// Only members that have counted something are remembered between
// scrapes (at 50k idle listeners, their zeros were 4.8 MB): one that goes
// idle leaves nothing, one that counted leaves its counts, also when it
// started counting only in the scrape before it went.
TEST(PortAggregator, RemembersOnlyMembersThatCounted)
{
	std::vector<ListenerStat> ls;
	for (std::uint64_t k = 1; k <= 1000; k++)
		ls.push_back(member(k, 443));
	ls[10].overflow_syn = 4;
	ls[20].wait_hist[2] = 1;  // the histogram counts too, when kept
	PortAggregator agg;
	auto gs = agg.aggregate(ls, fold_above(32768), true);
	EXPECT_EQ(agg.members(), 1000u);
	EXPECT_EQ(agg.remembered(), 2u);
	EXPECT_EQ(agg.aggregate(ls, fold_above(32768), false).front().sum.overflow_syn, 4u);
	EXPECT_EQ(agg.remembered(), 1u) << "without histograms kept, 20 counted nothing";

	ls[30].accepted = 2;  // counts from now on
	gs = agg.aggregate(ls, fold_above(32768), false);
	EXPECT_EQ(agg.remembered(), 2u);
	ls.erase(ls.begin() + 30);  // 30 goes, and idle ones with it
	ls.erase(ls.begin() + 500, ls.end());
	gs = agg.aggregate(ls, fold_above(32768), false);
	ASSERT_EQ(gs.size(), 1u);
	EXPECT_EQ(gs[0].listeners, 500u);
	EXPECT_EQ(gs[0].sum.overflow_syn, 4u);
	EXPECT_EQ(gs[0].sum.accepted, 2u) << "30's accepts stay with 443";
	EXPECT_EQ(agg.remembered(), 1u);
}

TEST(KeepTop, HighestPressureThenOverflowsInTheirOrder)
{
	std::vector<ListenerStat> ls;
	for (std::uint16_t p = 1; p <= 6; p++)
		ls.push_back(member(p, p));
	ls[4].accept_queue_peak = 50;  // port 5: half full
	ls[1].accept_queue_peak = 99;  // port 2: full
	ls[3].overflow_ack = 3;        // port 4: idle now, overflowed before
	EXPECT_EQ(keep_top(ls, 3), 3u);
	ASSERT_EQ(ls.size(), 3u);
	EXPECT_EQ(ls[0].id.port, 2);
	EXPECT_EQ(ls[1].id.port, 4);
	EXPECT_EQ(ls[2].id.port, 5);
	EXPECT_EQ(keep_top(ls, 10), 0u);

	PortAggregator agg;
	std::vector<ListenerStat> many = {member(1, 80), member(2, 443), member(3, 443), member(4, 8080)};
	many[2].accept_queue_peak = 100;  // one hot member of a reuseport group
	auto gs = agg.aggregate(many, fold_above(32768), false);
	EXPECT_EQ(keep_top(gs, 1), 2u);
	ASSERT_EQ(gs.size(), 1u);
	EXPECT_EQ(gs[0].port, 443);
}

}  // namespace
