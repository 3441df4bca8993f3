// Tier 3's SYN-path attribution from netns counters (model/syn_attribution.h).
#include <gtest/gtest.h>

#include "model/syn_attribution.h"

namespace listenq {
namespace {

ListenerStat listener(std::uint64_t cookie, std::uint32_t netns, std::uint32_t backlog = 4)
{
	ListenerStat s;
	s.id.cookie = cookie;
	s.key = cookie;
	s.id.netns = netns;
	s.backlog = backlog;
	return s;
}

ListenCounters mib(std::uint64_t overflows, std::uint64_t qdrop, std::uint64_t qcookies, std::uint64_t sent)
{
	ListenCounters c;
	c.listen_overflows = overflows;
	c.reqq_full_drop = qdrop;
	c.reqq_full_do_cookies = qcookies;
	c.syncookies_sent = sent;
	return c;
}

TEST(SynAttribution, TheOnlyListenerUnderPressureGetsTheNetnsDeltas)
{
	SynAttributor a(/*ack_exact=*/true);
	std::vector<ListenerStat> s = {listener(1, 7), listener(2, 7)};
	a.apply(s, {{7, mib(100, 200, 300, 400)}});  // baseline
	s[0].overflow_syn = 9;                        // raw: 9 unexplained sk_drops
	s[0].syn_queue_peak = 5;
	s[1].syn_queue_peak = 1;  // busy, not full
	a.apply(s, {{7, mib(104, 205, 310, 410)}});
	EXPECT_EQ(s[0].overflow_syn, 4u);
	EXPECT_EQ(s[0].synq_full_drops, 5u);
	EXPECT_EQ(s[0].synq_full_cookies, 10u);
	EXPECT_EQ(s[0].syncookies_sent, 10u);
	EXPECT_EQ(s[1].overflow_syn, 0u);
	EXPECT_EQ(s[1].synq_full_drops, 0u);
	EXPECT_TRUE(a.unattributed().empty());

	// Cumulative: the next interval adds; raw counts are inputs only.
	s[0].overflow_syn = 9;  // no new drops, but its SYN queue is still full
	a.apply(s, {{7, mib(104, 205, 312, 412)}});
	EXPECT_EQ(s[0].synq_full_cookies, 12u);
	EXPECT_EQ(s[0].overflow_syn, 4u);
}

TEST(SynAttribution, ListenOverflowsMinusExactAckPathIsTheSynPath)
{
	for (bool ack_exact : {true, false}) {
		SynAttributor a(ack_exact);
		std::vector<ListenerStat> s = {listener(1, 7)};
		a.apply(s, {{7, mib(0, 0, 0, 0)}});
		s[0].overflow_syn = 4;
		s[0].overflow_ack = 3;  // exact per listener (kfree_skb reason or a hook)
		a.apply(s, {{7, mib(7, 0, 0, 0)}});
		EXPECT_EQ(s[0].overflow_syn, ack_exact ? 4u : 7u) << "ack_exact " << ack_exact;
		EXPECT_EQ(s[0].overflow_ack, 3u);
	}
}

TEST(SynAttribution, SeveralListenersUnderPressureLeaveItWithTheNetns)
{
	SynAttributor a(true);
	std::vector<ListenerStat> s = {listener(1, 7), listener(2, 7), listener(3, 8)};
	a.apply(s, {{7, mib(0, 0, 0, 0)}, {8, mib(0, 0, 0, 0)}});
	s[0].overflow_syn = 3;
	s[1].syn_queue_peak = 4;  // at its limit
	s[2].overflow_syn = 2;    // alone in netns 8
	a.apply(s, {{7, mib(0, 3, 6, 6)}, {8, mib(0, 2, 0, 0)}});
	EXPECT_EQ(s[0].synq_full_drops, 0u);
	EXPECT_EQ(s[1].synq_full_cookies, 0u);
	EXPECT_EQ(s[2].synq_full_drops, 2u);
	auto u = a.unattributed();
	ASSERT_EQ(u.size(), 1u);
	EXPECT_EQ(u[0].netns, 7u);
	EXPECT_EQ(u[0].listeners_under_pressure, 2u);
	EXPECT_EQ(u[0].counts.synq_full_drops, 3u);
	EXPECT_EQ(u[0].counts.synq_full_cookies, 6u);
	EXPECT_EQ(u[0].counts.syncookies_sent, 6u);
}

// Counted by the netns between the sample and the counters' read: shown as
// not attributed yet, and given once its listener shows the pressure.
TEST(SynAttribution, CountsAheadOfTheSampleWaitForTheirListener)
{
	SynAttributor a(true);
	std::vector<ListenerStat> s = {listener(1, 7)};
	a.apply(s, {{7, mib(0, 0, 0, 0)}});
	a.apply(s, {{7, mib(0, 1, 0, 0)}});
	auto u = a.unattributed();
	ASSERT_EQ(u.size(), 1u);
	EXPECT_EQ(u[0].listeners_under_pressure, 0u);
	EXPECT_EQ(s[0].synq_full_drops, 0u);
	s[0].overflow_syn = 1;
	a.apply(s, {{7, mib(0, 1, 0, 0)}});
	EXPECT_EQ(s[0].synq_full_drops, 1u);
	EXPECT_TRUE(a.unattributed().empty());
}

TEST(SynAttribution, NetnsWithoutCountersKeepsTheRawCountAndClosedListenersAreForgotten)
{
	SynAttributor a(true);
	std::vector<ListenerStat> s = {listener(1, 7), listener(2, 9)};
	a.apply(s, {{7, mib(0, 0, 0, 0)}});
	s[1].overflow_syn = 5;
	a.apply(s, {{7, mib(0, 0, 0, 0)}});
	EXPECT_EQ(s[1].overflow_syn, 5u) << "netns 9 could not be read: left as sampled";

	s[0].overflow_syn = 2;
	a.apply(s, {{7, mib(2, 0, 0, 0)}});
	EXPECT_EQ(s[0].overflow_syn, 2u);
	std::vector<ListenerStat> reopened = {listener(1, 7)};  // same cookie never comes back; a fresh state
	std::vector<ListenerStat> none;
	a.apply(none, {{7, mib(2, 0, 0, 0)}});
	a.apply(reopened, {{7, mib(2, 0, 0, 0)}});
	EXPECT_EQ(reopened[0].overflow_syn, 0u);
}

// Counters known at start are the baseline; a netns first seen later with
// only listeners younger than listenq was born later, at 0.
TEST(SynAttribution, BaselineIsTheStartOrZeroForANetnsBornLater)
{
	SynAttributor a(true);
	a.set_start({{7, mib(50, 60, 0, 0)}});
	std::vector<ListenerStat> s = {listener(1, 7), listener(2, 9)};
	s[0].overflow_syn = 3;
	s[1].overflow_syn = 2;
	a.apply(s, {{7, mib(53, 60, 0, 0)}, {9, mib(2, 0, 0, 0)}});
	EXPECT_EQ(s[0].overflow_syn, 3u) << "53 - 50 at start";
	EXPECT_EQ(s[1].overflow_syn, 2u) << "netns 9 is new: from 0";

	// A netns not known at start that has an older (seeded) listener
	// existed before: its first read is the baseline, not 0.
	SynAttributor b(true);
	b.set_start({});
	std::vector<ListenerStat> t = {listener(3, 11)};
	t[0].seeded = true;
	t[0].overflow_syn = 4;
	b.apply(t, {{11, mib(900, 0, 0, 0)}});
	EXPECT_EQ(t[0].overflow_syn, 0u);
	EXPECT_TRUE(b.unattributed().empty());
}

}  // namespace
}  // namespace listenq
