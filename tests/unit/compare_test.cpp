// The compare/explain logic, table-driven: agree, racy, /proc-zero, diag
// missing, unexplained.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <deque>

#include "crossval/compare.h"

using namespace listenq;

namespace {

Listener L(std::uint16_t port, std::uint32_t q, std::uint32_t max, std::uint64_t cookie, std::uint64_t inode,
	   std::uint32_t drops = 0)
{
	Listener l;
	l.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", l.addr.data());
	l.port = port;
	l.accept_queue = q;
	l.backlog = max;
	l.cookie = cookie;
	l.inode = inode;
	l.drops = drops;
	return l;
}

// /proc carries no cookie and no backlog.
Listener P(std::uint16_t port, std::uint32_t q, std::uint64_t inode) { return L(port, q, 0, 0, inode); }

const FieldResult &field(const ListenerResult &r, Field f)
{
	for (const auto &x : r.fields)
		if (x.field == f)
			return x;
	throw std::runtime_error("no field");
}

struct Case {
	const char *name;
	SourceData data;
	Verdict verdict;
	Verdict backlog;
	std::vector<std::string> notes;
};

TEST(Compare, Table)
{
	SourceData all_agree;
	all_agree.bpf = {{L(80, 2, 17, 11, 101)}};
	all_agree.diag = {{L(80, 2, 17, 11, 101)}};

	SourceData proc_zero = all_agree;
	proc_zero.proc = {{P(80, 2, 101)}};

	SourceData diag_missing;
	diag_missing.bpf = {{L(80, 2, 17, 11, 101)}};
	diag_missing.proc = {{P(80, 2, 101)}};
	diag_missing.diag_unavailable = true;

	SourceData emulated = diag_missing;
	emulated.diag_unavailable = false;
	emulated.diag_emulated = true;

	SourceData unexplained;
	unexplained.bpf = {{L(80, 2, 17, 11, 101)}};
	unexplained.diag = {{L(80, 2, 18, 11, 101)}};

	SourceData queue_differs = proc_zero;
	queue_differs.proc = {{P(80, 3, 101)}};

	SourceData listen_zero;  // listen(fd, 0): /proc's 0 is then right
	listen_zero.bpf = {{L(80, 0, 0, 11, 101)}};
	listen_zero.proc = {{P(80, 0, 101)}};

	SourceData drops = all_agree;
	drops.bpf->at(0).drops = drops.diag->at(0).drops = 4;

	const Case cases[] = {
		{"agree", all_agree, Verdict::agree, Verdict::agree, {}},
		{"proc zero", proc_zero, Verdict::explained, Verdict::explained, {"no_drops_in_proc"}},
		{"diag missing", diag_missing, Verdict::explained, Verdict::explained,
		 {"tcp_diag_missing", "no_drops_in_proc"}},
		{"diag emulated", emulated, Verdict::explained, Verdict::explained,
		 {"tcp_diag_emulated", "no_drops_in_proc"}},
		{"unexplained backlog", unexplained, Verdict::mismatch, Verdict::mismatch, {}},
		{"queue differs", queue_differs, Verdict::mismatch, Verdict::explained, {"no_drops_in_proc"}},
		{"listen(fd, 0)", listen_zero, Verdict::agree, Verdict::agree, {"no_drops_in_proc"}},
		{"drops", drops, Verdict::agree, Verdict::agree, {"drops_all_listen_drops"}},
	};
	for (const Case &c : cases) {
		SCOPED_TRACE(c.name);
		Comparison cmp = compare_sources(c.data);
		ASSERT_EQ(cmp.listeners.size(), 1u);
		EXPECT_EQ(cmp.listeners[0].verdict, c.verdict);
		EXPECT_EQ(field(cmp.listeners[0], Field::backlog).verdict, c.backlog);
		EXPECT_EQ(cmp.notes, c.notes);
		EXPECT_EQ(cmp.ok(), c.verdict != Verdict::mismatch);
	}
}

TEST(Compare, ProcZeroIsExplainedWithTheSsSentence)
{
	SourceData d;
	d.bpf = {{L(80, 2, 17, 11, 101)}};
	d.proc = {{P(80, 2, 101)}};
	const Comparison cmp = compare_sources(d);  // b refers into it
	const FieldResult &b = field(cmp.listeners[0], Field::backlog);
	EXPECT_EQ(b.values[0], 17u);
	EXPECT_FALSE(b.values[1]);
	EXPECT_EQ(b.values[2], 0u);
	EXPECT_EQ(b.explanation, "proc_no_backlog");
	EXPECT_NE(explanation_text(b.explanation).find("ss` shows Send-Q 0 when tcp_diag is missing"),
		  std::string::npos);
}

TEST(Compare, JoinsByCookieAndInodeNotByPort)
{
	// Two SO_REUSEPORT listeners on one port with their own queues.
	SourceData d;
	d.bpf = {{L(80, 1, 5, 11, 101), L(80, 4, 6, 12, 102)}};
	d.diag = {{L(80, 4, 6, 12, 102), L(80, 1, 5, 11, 101)}};
	d.proc = {{P(80, 4, 102), P(80, 1, 101)}};
	Comparison c = compare_sources(d);
	ASSERT_EQ(c.listeners.size(), 2u);
	for (const auto &r : c.listeners) {
		EXPECT_EQ(r.verdict, Verdict::explained);
		EXPECT_TRUE(r.missing_from.empty());
	}
}

TEST(Compare, ListenerMissingFromASourceIsAMismatch)
{
	SourceData d;
	d.bpf = {{L(80, 0, 5, 11, 101), L(81, 0, 5, 12, 102)}};
	d.diag = {{L(80, 0, 5, 11, 101)}};
	Comparison c = compare_sources(d);
	ASSERT_EQ(c.listeners.size(), 2u);
	EXPECT_EQ(c.listeners[1].listener.port, 81);
	EXPECT_EQ(c.listeners[1].verdict, Verdict::mismatch);
	EXPECT_EQ(c.listeners[1].missing_from, std::vector<Source>{Source::diag});
}

// A reader that replays scripted reads (what the kernel said each time).
struct Script {
	std::deque<SourceData> reads;
	std::vector<ListenerFilter> asked;
	SourceReader reader()
	{
		return [this](const ListenerFilter &f) -> Result<SourceData> {
			asked.push_back(f);
			if (reads.empty())
				return Error{EIO, "script exhausted"};
			SourceData d = reads.front();
			if (reads.size() > 1)
				reads.pop_front();
			return d;
		};
	}
};

SourceData pair(std::uint32_t bpf_q, std::uint32_t diag_q)
{
	SourceData d;
	d.bpf = {{L(80, bpf_q, 17, 11, 101)}};
	d.diag = {{L(80, diag_q, 17, 11, 101)}};
	return d;
}

TEST(Verify, RacyReadAgreesOnReread)
{
	Script s{{pair(5, 6), pair(6, 7), pair(7, 7)}, {}};
	auto c = verify_listeners(s.reader(), ListenerFilter{}, 5);
	ASSERT_TRUE(c);
	ASSERT_EQ(c->listeners.size(), 1u);
	EXPECT_EQ(c->listeners[0].verdict, Verdict::agree);
	EXPECT_EQ(c->listeners[0].rereads, 2);
	EXPECT_EQ(c->listeners[0].explanations, std::vector<std::string>{"racy_reread"});
	EXPECT_EQ(field(c->listeners[0], Field::accept_queue).values[0], 7u);
	// Re-reads ask for that listener only.
	ASSERT_EQ(s.asked.size(), 3u);
	EXPECT_EQ(s.asked[1].port, 80);
	EXPECT_TRUE(s.asked[1].ipv4);
	EXPECT_FALSE(s.asked[1].ipv6);
}

TEST(Verify, PersistentDifferenceIsAMismatchAfterAllRereads)
{
	Script s{{pair(5, 6)}, {}};
	auto c = verify_listeners(s.reader(), ListenerFilter{}, 3);
	ASSERT_TRUE(c);
	EXPECT_EQ(c->listeners[0].verdict, Verdict::mismatch);
	EXPECT_EQ(c->listeners[0].rereads, 3);
	EXPECT_FALSE(c->ok());
	EXPECT_EQ(s.asked.size(), 4u);
}

TEST(Verify, ListenerClosedDuringVerify)
{
	// both sources read, the listener is not there any more
	const SourceData gone = [] {
		SourceData d;
		d.bpf = std::vector<Listener>{};
		d.diag = std::vector<Listener>{};
		return d;
	}();
	Script s{{pair(5, 6), gone}, {}};
	auto c = verify_listeners(s.reader(), ListenerFilter{}, 5);
	ASSERT_TRUE(c);
	EXPECT_EQ(c->listeners[0].verdict, Verdict::explained);
	EXPECT_EQ(c->listeners[0].explanations, std::vector<std::string>{"listener_closed"});
	EXPECT_TRUE(c->ok());
}

TEST(Verify, ReaderErrorsPropagate)
{
	Script s{{}, {}};
	auto c = verify_listeners(s.reader(), ListenerFilter{}, 5);
	ASSERT_FALSE(c);
	EXPECT_EQ(c.error().message, "script exhausted");
}

TEST(Verify, EveryExplanationIdHasText)
{
	for (const char *id : {"proc_no_backlog", "tcp_diag_missing", "tcp_diag_emulated", "drops_all_listen_drops",
			       "racy_reread", "listener_closed", "no_drops_in_proc"})
		EXPECT_FALSE(explanation_text(id).empty()) << id;
	EXPECT_TRUE(explanation_text("nonsense").empty());
}

}  // namespace
