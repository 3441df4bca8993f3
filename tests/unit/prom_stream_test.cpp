// export's /metrics body made in pieces (render/prom_render.h PromBody):
// whatever the piece size, the pieces put together are the body the
// renderer made in one string before it streamed, byte for byte.
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

#include "prom_fixture.h"
#include "render/prom_render.h"

using namespace listenq;
using namespace listenq::testing;

namespace {

std::uint32_t crc_of(std::string_view s)
{
	return static_cast<std::uint32_t>(
		crc32(0, reinterpret_cast<const Bytef *>(s.data()), static_cast<uInt>(s.size())));
}

// What the renderer wrote before it streamed (commit 3c1d996, one string):
// the length and CRC-32 of each fixture body.
struct Signature {
	const char *name;
	std::size_t size;
	std::uint32_t crc;
};
constexpr Signature kBefore[] = {
	{"full per listener", 14517823, 0xee335558},
	{"default per listener, tier 3", 2981903, 0x3217758c},
	{"full per port", 750532, 0x5107cd10},
	{"default per port", 182831, 0xbfdd12b7},
};

TEST(PromStream, TheBodiesAreTheOnesRenderedBeforeStreaming)
{
	const auto bodies = fixture_bodies();
	ASSERT_EQ(bodies.size(), std::size(kBefore));
	for (std::size_t i = 0; i < bodies.size(); i++) {
		const std::string body = render_prometheus(bodies[i].second);
		EXPECT_EQ(bodies[i].first, kBefore[i].name);
		EXPECT_EQ(body.size(), kBefore[i].size) << kBefore[i].name;
		EXPECT_EQ(crc_of(body), kBefore[i].crc) << kBefore[i].name;
	}
}

// Pieces of any size make the same body. Each is whole lines, and stops
// within a row of the size asked for (a row of every series per listener,
// with its histogram, is under 8 KiB here).
TEST(PromStream, PiecesOfAnySizeMakeTheWholeBody)
{
	for (const auto &[name, s] : fixture_bodies()) {
		const std::string whole = render_prometheus(s);
		const auto e = std::make_shared<const PromExposition>(s);
		for (std::size_t max : {std::size_t{1}, std::size_t{4096}, std::size_t{65536}}) {
			if (max == 1 && whole.size() > (4u << 20))
				continue;  // a piece per row: long enough on the smaller bodies
			PromBody body(e);
			std::string joined, piece;
			std::size_t pieces = 0, largest = 0;
			for (bool more = true; more;) {
				piece.clear();
				more = body.next(piece, max);
				pieces++;
				largest = std::max(largest, piece.size());
				ASSERT_TRUE(piece.empty() || piece.back() == '\n') << name << ", piece " << pieces;
				ASSERT_TRUE(!more || piece.size() >= max) << name << ": a piece short of " << max << " before the end";
				joined += piece;
			}
			EXPECT_LE(largest, max + 8192) << name << ", pieces of " << max;
			EXPECT_EQ(joined.size(), whole.size()) << name << ", pieces of " << max;
			EXPECT_TRUE(joined == whole) << name << ", pieces of " << max;
			piece.clear();
			EXPECT_FALSE(body.next(piece, max)) << "a complete body stays complete";
			EXPECT_TRUE(piece.empty());
		}
	}
}

// Two bodies of one exposition, interleaved (two scrapers sharing a
// scrape), each get all of it.
TEST(PromStream, BodiesOfOneExpositionAreIndependent)
{
	ExportScrape s = fixture_bodies()[2].second;
	const std::string whole = render_prometheus(s);
	const auto e = std::make_shared<const PromExposition>(std::move(s));
	PromBody a(e), b(e);
	std::string ta, tb;
	bool more_a = true, more_b = true;
	while (more_a || more_b) {
		if (more_a)
			more_a = a.next(ta, 1000);
		if (more_b)
			more_b = b.next(tb, 7777);
	}
	EXPECT_TRUE(ta == whole);
	EXPECT_TRUE(tb == whole);
}

// listenq_scrape_duration_seconds is the last series, and elapsed() is
// asked for it only when the body reaches it: after the rendering.
TEST(PromStream, ScrapeDurationIsAskedForLast)
{
	const auto e = std::make_shared<const PromExposition>(fixture_bodies()[3].second);
	int asked = 0;
	PromBody body(e, [&] {
		asked++;
		return 0.25;
	});
	std::string t;
	while (body.next(t, 4096))
		EXPECT_EQ(asked, 0);
	EXPECT_EQ(asked, 1);
	const std::string last = "\nlistenq_scrape_duration_seconds 0.25\n";
	EXPECT_EQ(t.substr(t.size() - last.size()), last);
}

}  // namespace
