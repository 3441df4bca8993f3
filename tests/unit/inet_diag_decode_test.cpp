#include <gtest/gtest.h>

#include <climits>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <cstring>
#include <map>

#include "bpf/record_decode.h"
#include "golden.h"
#include "sources/inet_diag.h"
#include "sources/netlink.h"

using namespace listenq;
using namespace listenq::testing;

namespace {

// Raw SOCK_DIAG_BY_FAMILY replies captured with the same SCENARIO as
// iter_tcp_6.18.bin (tests/tools/capture_fixtures.cpp).
TEST(InetDiagDecode, CapturedIpv4DumpFromHost618)
{
	auto bytes = read_fixture_bytes("inet_diag_v4_6.18.bin");
	auto r = decode_diag_batch(bytes);
	ASSERT_TRUE(r) << r.error().message;
	EXPECT_TRUE(r->done);
	EXPECT_EQ(r->error, 0);
	std::vector<Listener> v = r->listeners;
	sort_listeners(v);
	ASSERT_EQ(v.size(), 4u);
	EXPECT_EQ(v[0].port, 7001);
	EXPECT_EQ(v[0].accept_queue, 5u);  // idiag_rqueue
	EXPECT_EQ(v[0].backlog, 17u);      // idiag_wqueue
	EXPECT_EQ(v[1].port, 7003);
	EXPECT_EQ(v[1].backlog, 4096u);
	for (bool m : r->has_meminfo)
		EXPECT_TRUE(m);
}

TEST(InetDiagDecode, CapturedIpv6Dump)
{
	auto r = decode_diag_batch(read_fixture_bytes("inet_diag_v6_6.18.bin"));
	ASSERT_TRUE(r) << r.error().message;
	ASSERT_EQ(r->listeners.size(), 1u);
	const Listener &l = r->listeners[0];
	EXPECT_EQ(l.family, AF_INET6);
	EXPECT_EQ(format_address(l.family, l.addr), "::1");
	EXPECT_EQ(l.port, 7002);
	EXPECT_EQ(l.accept_queue, 2u);
	EXPECT_EQ(l.backlog, 9u);
}

// The socket cookie is the join key: inet_diag and iter/tcp must agree.
TEST(InetDiagDecode, CookiesAndInodesMatchTheIterCapture)
{
	auto iter = decode_listener_records(read_fixture_bytes("iter_tcp_6.18.bin"));
	ASSERT_TRUE(iter);
	std::map<std::uint64_t, Listener> by_cookie;
	for (const auto &l : *iter)
		by_cookie[l.cookie] = l;
	for (const char *f : {"inet_diag_v4_6.18.bin", "inet_diag_v6_6.18.bin"}) {
		auto d = decode_diag_batch(read_fixture_bytes(f));
		ASSERT_TRUE(d);
		for (const auto &l : d->listeners) {
			ASSERT_TRUE(by_cookie.count(l.cookie)) << "cookie " << l.cookie << " not in iter capture";
			const Listener &b = by_cookie[l.cookie];
			EXPECT_EQ(l.inode, b.inode);
			EXPECT_EQ(l.port, b.port);
			EXPECT_EQ(l.accept_queue, b.accept_queue);
			EXPECT_EQ(l.backlog, b.backlog);
			EXPECT_EQ(l.drops, b.drops);
		}
	}
}

TEST(InetDiagDecode, TruncatedMessageIsAClearError)
{
	auto bytes = read_fixture_bytes("inet_diag_v4_6.18.bin");
	for (std::size_t cut : {std::size_t{3}, std::size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
		std::vector<std::uint8_t> part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
		auto r = decode_diag_batch(part);
		ASSERT_FALSE(r) << "cut at " << cut;
		EXPECT_EQ(r.error().err, EBADMSG);
		EXPECT_NE(r.error().message.find("inet_diag:"), std::string::npos);
	}
}

// Found by tests/fuzz/fuzz_inet_diag: nlmsg_len 0xf70000ac passed
// libmnl's mnl_nlmsg_ok() (a signed compare) and the decoder read past the
// buffer. sources/netlink.h, which replaced libmnl, compares unsigned.
TEST(InetDiagDecode, LengthOver2GiBIsTruncationNotAnOverread)
{
	const std::vector<std::uint8_t> b = {0xac, 0x00, 0x00, 0xf7, 0x14, 0x00, 0x02, 0x00, 0x3e, 0xa6,
					     0x04, 0x6b, 0x24, 0x1a, 0x00, 0x00, 0x0a, 0x0a, 0x00, 0x00,
					     0x1b, 0x5a, 0x00, 0x00, 0x00, 0xac, 0x00, 0x00, 0x00, 0x38};
	auto r = decode_diag_batch(b);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().err, EBADMSG);
	EXPECT_NE(r.error().message.find("truncated netlink message at byte 0"), std::string::npos);
}

TEST(InetDiagDecode, HeaderOnlyMessageIsRejected)
{
	std::vector<std::uint8_t> b(NLMSG_HDRLEN + 8, 0);
	nlmsghdr h{};
	h.nlmsg_len = static_cast<__u32>(b.size());
	h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	std::memcpy(b.data(), &h, sizeof(h));
	auto r = decode_diag_batch(b);
	ASSERT_FALSE(r);
	EXPECT_NE(r.error().message.find("shorter than struct inet_diag_msg"), std::string::npos);
}

// What a kernel without tcp_diag answers: NLMSG_ERROR with -ENOENT.
TEST(InetDiagDecode, EnoentMeansNoTcpDiag)
{
	std::vector<std::uint8_t> b(NLMSG_HDRLEN + sizeof(nlmsgerr), 0);
	nlmsghdr h{};
	h.nlmsg_len = static_cast<__u32>(b.size());
	h.nlmsg_type = NLMSG_ERROR;
	nlmsgerr e{};
	e.error = -ENOENT;
	std::memcpy(b.data(), &h, sizeof(h));
	std::memcpy(b.data() + NLMSG_HDRLEN, &e, sizeof(e));
	auto r = decode_diag_batch(b);
	ASSERT_TRUE(r);
	EXPECT_TRUE(r->done);
	EXPECT_EQ(r->error, ENOENT);
	EXPECT_TRUE(r->listeners.empty());
}

// Found by tests/fuzz/fuzz_inet_diag (ASan, in a CI run): a last message
// with an unaligned nlmsg_len whose attribute reaches into the 4-byte
// alignment padding, which is past the buffer. Decoded up to nlmsg_len only.
TEST(InetDiagDecode, AttributesEndAtNlmsgLenNotItsAlignment)
{
	auto bytes = read_fixture_bytes("inet_diag_fuzz_unaligned_tail.bin");
	ASSERT_EQ(bytes.size() % 4, 1u) << "the capture ends unaligned";
	auto r = decode_diag_batch(bytes);  // under ASan (scripts/fuzz.sh) an over-read aborts
	ASSERT_TRUE(r) << r.error().message;
	for (bool m : r->has_meminfo)
		EXPECT_FALSE(m) << "the cut SKMEMINFO attribute is not read";
}

// Found by tests/fuzz/fuzz_inet_diag (UBSan): DONE carrying INT_MIN, which
// is no errno and cannot be negated.
TEST(InetDiagDecode, ImplausibleErrnoIsAProtocolError)
{
	std::vector<std::uint8_t> b(NLMSG_HDRLEN + sizeof(int), 0);
	nlmsghdr h{};
	h.nlmsg_len = static_cast<__u32>(b.size());
	h.nlmsg_type = NLMSG_DONE;
	const int e = INT_MIN;
	std::memcpy(b.data(), &h, sizeof(h));
	std::memcpy(b.data() + NLMSG_HDRLEN, &e, sizeof(e));
	auto r = decode_diag_batch(b);
	ASSERT_TRUE(r);
	EXPECT_TRUE(r->done);
	EXPECT_EQ(r->error, EPROTO);
}

}  // namespace

namespace {

// sources/netlink.h, which replaced libmnl: attributes are walked until
// the first one that does not fit, as mnl_attr_ok() did.
TEST(NetlinkAttrs, WalkStopsAtTheFirstAttributeThatDoesNotFit)
{
	// {len 5, type 0x8000|7, 1 byte, 3 padding} {len 8, type 2, 4 bytes} {len 12: past the end}
	const std::vector<std::uint8_t> area = {5, 0, 7, 0x80, 0xaa, 0, 0, 0, 8, 0, 2, 0, 1, 2, 3, 4, 12, 0, 3, 0, 9};
	std::vector<std::pair<std::uint16_t, std::size_t>> seen;
	auto record = [&](std::uint16_t t, std::span<const std::uint8_t> p) { seen.emplace_back(t, p.size()); };
	netlink::for_each_attr(area, record);
	ASSERT_EQ(seen.size(), 2u);
	EXPECT_EQ(seen[0], std::make_pair(std::uint16_t{7}, std::size_t{1})) << "NLA_F_NESTED masked off";
	EXPECT_EQ(seen[1], std::make_pair(std::uint16_t{2}, std::size_t{4}));
	seen.clear();
	const std::vector<std::uint8_t> zero_len = {0, 0, 1, 0, 8, 0, 2, 0, 1, 2, 3, 4};
	netlink::for_each_attr(zero_len, record);
	EXPECT_TRUE(seen.empty()) << "nla_len < NLA_HDRLEN ends the walk (no endless loop)";
}

TEST(NetlinkMessages, HeaderMustFitAndLengthMustCoverIt)
{
	std::vector<std::uint8_t> b(20, 0);
	nlmsghdr h{};
	h.nlmsg_len = 20;
	std::memcpy(b.data(), &h, sizeof(h));
	auto m = netlink::message_at(b, 0);
	ASSERT_TRUE(m);
	EXPECT_EQ(m->payload.size(), 4u);
	EXPECT_EQ(netlink::next_message(0, *m), 20u);
	EXPECT_FALSE(netlink::message_at(b, 8)) << "fewer than 16 bytes left";
	h.nlmsg_len = 15;
	std::memcpy(b.data(), &h, sizeof(h));
	EXPECT_FALSE(netlink::message_at(b, 0)) << "nlmsg_len < NLMSG_HDRLEN";
	h.nlmsg_len = 21;
	std::memcpy(b.data(), &h, sizeof(h));
	EXPECT_FALSE(netlink::message_at(b, 0)) << "nlmsg_len past the buffer";
}

}  // namespace
