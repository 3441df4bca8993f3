#include "golden.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace listenq::testing {

std::string fixture_path(const std::string &name) { return std::string(LQ_FIXTURES) + "/" + name; }

std::vector<std::uint8_t> read_fixture_bytes(const std::string &name)
{
	std::ifstream in(fixture_path(name), std::ios::binary);
	EXPECT_TRUE(in) << "missing fixture " << fixture_path(name);
	return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string read_fixture_text(const std::string &name)
{
	auto b = read_fixture_bytes(name);
	return {b.begin(), b.end()};
}

void expect_golden(const std::string &name, const std::string &actual)
{
	const std::string path = fixture_path("golden/" + name);
	if (const char *u = std::getenv("LISTENQ_UPDATE_GOLDEN"); u && std::string(u) == "1") {
		// CI compares; it never writes what it compares with.
		const char *ci = std::getenv("CI");
		ASSERT_FALSE(ci && std::string(ci) == "true")
			<< "LISTENQ_UPDATE_GOLDEN=1 is refused under CI=true: it would rewrite " << path
			<< " instead of comparing with it";
		std::ofstream(path) << actual;
		std::cerr << "updated " << path << '\n';
		return;
	}
	std::ifstream in(path);
	ASSERT_TRUE(in) << "missing golden file " << path << " (LISTENQ_UPDATE_GOLDEN=1 creates it)";
	std::stringstream ss;
	ss << in.rdbuf();
	EXPECT_EQ(ss.str(), actual) << "golden mismatch: " << path;
}

}  // namespace listenq::testing
