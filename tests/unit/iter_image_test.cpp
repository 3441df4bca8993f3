// The snapshot program image's file format and the kernel build id parser
// (src/bpf/iter_image.h): what is read back is what was written, and
// anything else is refused rather than loaded.
#include <gtest/gtest.h>

#include <string>

#include "bpf/iter_image.h"

using namespace listenq;

namespace {

IterImage sample()
{
	IterImage img;
	img.attach_btf_id = 64299;
	img.rodata_size = 9;
	img.no_cookie_helper = true;
	img.insns = {
		{BPF_LD | BPF_IMM | BPF_DW, 1, BPF_PSEUDO_MAP_VALUE, 0, 7},
		{0, 0, 0, 0, 0},
		{BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0},
		{BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
	};
	img.map_refs = {0};
	return img;
}

TEST(IterImage, RoundTrips)
{
	const IterImage in = sample();
	auto out = decode_iter_image(encode_iter_image(in));
	ASSERT_TRUE(out);
	EXPECT_EQ(out->attach_btf_id, in.attach_btf_id);
	EXPECT_EQ(out->rodata_size, in.rodata_size);
	EXPECT_EQ(out->no_cookie_helper, in.no_cookie_helper);
	EXPECT_EQ(encode_iter_image(*out), encode_iter_image(in));
}

TEST(IterImage, RefusesWhatItDidNotWrite)
{
	const std::string good = encode_iter_image(sample());
	EXPECT_FALSE(decode_iter_image(""));
	EXPECT_FALSE(decode_iter_image(good.substr(0, good.size() - 1)));  // truncated
	EXPECT_FALSE(decode_iter_image(good + "x"));                       // trailing bytes
	std::string magic = good;
	magic[0] = 'X';
	EXPECT_FALSE(decode_iter_image(magic));
	IterImage bad_ref = sample();
	bad_ref.map_refs = {2};  // not an ld_imm64
	EXPECT_FALSE(decode_iter_image(encode_iter_image(bad_ref)));
	IterImage last = sample();
	last.map_refs = {3};  // no second half
	EXPECT_FALSE(decode_iter_image(encode_iter_image(last)));
	IterImage no_id = sample();
	no_id.attach_btf_id = 0;
	EXPECT_FALSE(decode_iter_image(encode_iter_image(no_id)));
}

TEST(IterImage, GnuBuildIdFromKernelNotes)
{
	// The start of this host's /sys/kernel/notes (6.18.44-fc-v857): a
	// Xen note first would be skipped the same way.
	const std::string other("\x06\x00\x00\x00\x04\x00\x00\x00\x06\x00\x00\x00Linux\x00\x00\x00\x01\x02\x03\x04", 24);
	const std::string gnu("\x04\x00\x00\x00\x14\x00\x00\x00\x03\x00\x00\x00GNU\x00"
			      "\x24\xa3\x59\x8f\xd7\x00\x11\x4d\x0a\x1b\x1a\x48\x71\xba\xdc\xee\x75\xd0\xac\xac",
			      36);
	EXPECT_EQ(gnu_build_id(gnu), "24a3598fd700114d0a1b1a4871badcee75d0acac");
	EXPECT_EQ(gnu_build_id(other + gnu), "24a3598fd700114d0a1b1a4871badcee75d0acac");
	EXPECT_FALSE(gnu_build_id(other));
	EXPECT_FALSE(gnu_build_id(gnu.substr(0, 30)));
	EXPECT_FALSE(gnu_build_id(""));
}

}  // namespace
