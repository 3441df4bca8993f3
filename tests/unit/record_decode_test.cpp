#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>
#include <set>

#include "bpf/record_decode.h"
#include "golden.h"
#include "listenq/abi.h"

using namespace listenq;
using namespace listenq::testing;

namespace {

// tests/fixtures/iter_tcp_6.18.bin: the SCENARIO of tests/tools/capture_fixtures.cpp,
// read by bpf/snapshot.bpf.c on the 6.18 host.
TEST(RecordDecode, CapturedIterTcpStreamFromHost618)
{
	auto bytes = read_fixture_bytes("iter_tcp_6.18.bin");
	auto r = decode_listener_records(bytes);
	ASSERT_TRUE(r) << r.error().message;
	std::vector<Listener> v = *r;
	sort_listeners(v);
	ASSERT_EQ(v.size(), 5u);

	EXPECT_EQ(v[0].port, 7001);
	EXPECT_EQ(v[0].family, AF_INET);
	EXPECT_EQ(format_address(v[0].family, v[0].addr), "127.0.0.1");
	EXPECT_EQ(v[0].accept_queue, 5u);
	EXPECT_EQ(v[0].backlog, 17u);
	EXPECT_FALSE(v[0].reuseport);

	EXPECT_EQ(v[1].port, 7002);
	EXPECT_EQ(v[1].family, AF_INET6);
	EXPECT_EQ(format_address(v[1].family, v[1].addr), "::1");
	EXPECT_EQ(v[1].accept_queue, 2u);
	EXPECT_EQ(v[1].backlog, 9u);

	EXPECT_EQ(v[2].port, 7003);
	EXPECT_EQ(format_address(v[2].family, v[2].addr), "0.0.0.0");
	EXPECT_EQ(v[2].backlog, 4096u);  // listen(100000) clamped to somaxconn
	EXPECT_EQ(v[2].accept_queue, 0u);

	EXPECT_EQ(v[3].port, 7004);
	EXPECT_EQ(v[4].port, 7004);
	EXPECT_TRUE(v[3].reuseport && v[4].reuseport);
	EXPECT_EQ(std::set<std::uint32_t>({v[3].backlog, v[4].backlog}), (std::set<std::uint32_t>{5, 6}));

	std::set<std::uint64_t> cookies, inodes;
	for (const auto &l : v) {
		EXPECT_EQ(l.netns, v[0].netns);
		EXPECT_EQ(l.uid, 0u);
		EXPECT_EQ(l.syn_queue, 0u);
		cookies.insert(l.cookie);
		inodes.insert(l.inode);
	}
	EXPECT_EQ(cookies.size(), 5u);
	EXPECT_EQ(inodes.size(), 5u);
	EXPECT_FALSE(cookies.count(0));
	EXPECT_FALSE(inodes.count(0));
}

lq_listener_rec sample_record()
{
	lq_listener_rec r{};
	r.cookie = 0x1122334455667788ULL;
	r.inode = 424242;
	r.netns = 4026531840u;
	r.uid = 1000;
	r.ack_backlog = 3;
	r.max_ack_backlog = 128;
	r.syn_qlen = 7;
	r.syn_young = 6;
	r.drops = 11;
	r.bound_dev_if = 2;
	r.family = AF_INET;
	r.port = 443;
	const std::uint8_t a[4] = {10, 1, 2, 3};
	std::memcpy(r.addr, a, 4);
	std::memset(r.addr + 4, 0xee, 12);  // garbage past the IPv4 address
	r.reuseport = 1;
	return r;
}

TEST(RecordDecode, EveryFieldOfOneRecord)
{
	lq_listener_rec rec = sample_record();
	std::vector<std::uint8_t> b(sizeof(rec));
	std::memcpy(b.data(), &rec, sizeof(rec));
	auto r = decode_listener_records(b);
	ASSERT_TRUE(r);
	ASSERT_EQ(r->size(), 1u);
	const Listener &l = (*r)[0];
	EXPECT_EQ(l.cookie, 0x1122334455667788ULL);
	EXPECT_EQ(l.inode, 424242u);
	EXPECT_EQ(l.netns, 4026531840u);
	EXPECT_EQ(l.uid, 1000u);
	EXPECT_EQ(l.accept_queue, 3u);
	EXPECT_EQ(l.backlog, 128u);
	EXPECT_EQ(l.syn_queue, 7u);
	EXPECT_EQ(l.syn_young, 6u);
	EXPECT_EQ(l.drops, 11u);
	EXPECT_EQ(l.bound_dev_if, 2u);
	EXPECT_EQ(l.port, 443);
	EXPECT_TRUE(l.reuseport);
	EXPECT_EQ(format_address(l.family, l.addr), "10.1.2.3");
	for (int i = 4; i < 16; i++)
		EXPECT_EQ(l.addr[i], 0) << "IPv4 tail byte " << i << " must be cleared";
}

TEST(RecordDecode, EmptyStreamIsNoListeners)
{
	auto r = decode_listener_records({});
	ASSERT_TRUE(r);
	EXPECT_TRUE(r->empty());
}

TEST(RecordDecode, TruncatedStreamIsAnError)
{
	auto bytes = read_fixture_bytes("iter_tcp_6.18.bin");
	bytes.pop_back();
	auto r = decode_listener_records(bytes);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().err, EPROTO);
	EXPECT_NE(r.error().message.find("not a multiple of the 72-byte record"), std::string::npos);
}

TEST(RecordDecode, UnknownFamilyIsAnError)
{
	lq_listener_rec rec = sample_record();
	rec.family = 99;
	std::vector<std::uint8_t> b(sizeof(rec));
	std::memcpy(b.data(), &rec, sizeof(rec));
	auto r = decode_listener_records(b);
	ASSERT_FALSE(r);
	EXPECT_NE(r.error().message.find("unknown family 99"), std::string::npos);
}

}  // namespace
