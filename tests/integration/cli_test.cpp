// Exit codes and hints a user meets when something is missing.
#include <gtest/gtest.h>

#include <fstream>

#include "privileged.h"

using namespace listenq::testing;

namespace {

class Cli : public ::testing::Test {
protected:
	void SetUp() override { LQ_REQUIRE_ROOT_NETNS(); }
};

TEST_F(Cli, UnprivilegedUserGetsExit3AndCapabilityHint)
{
	RunResult r = run_program({"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
				   LISTENQ_BIN, "snapshot"});
	EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
	EXPECT_NE(r.err.find("CAP_BPF"), std::string::npos) << r.err;
	EXPECT_NE(r.err.find("CAP_PERFMON"), std::string::npos) << r.err;
}

TEST_F(Cli, MissingBtfFileGetsExit3AndHint)
{
	RunResult r = run_program({LISTENQ_BIN, "snapshot", "--btf", "/nonexistent/vmlinux.btf"});
	EXPECT_EQ(r.exit_code, 3);
	EXPECT_NE(r.err.find("--btf PATH"), std::string::npos) << r.err;
}

TEST_F(Cli, CorruptBtfFileGetsExit3)
{
	const std::string path = ::testing::TempDir() + "/corrupt.btf";
	std::ofstream(path) << "this is not BTF";
	RunResult r = run_program({LISTENQ_BIN, "snapshot", "--btf", path});
	EXPECT_EQ(r.exit_code, 3);
	EXPECT_NE(r.err.find("not valid BTF"), std::string::npos) << r.err;
}

TEST_F(Cli, ValidCustomBtfIsUsedForCoRe)
{
	RunResult r = run_program({LISTENQ_BIN, "snapshot", "--btf", "/sys/kernel/btf/vmlinux", "--json"});
	EXPECT_EQ(r.exit_code, 0) << r.err;
	EXPECT_NE(r.out.find("\"source\": \"iter/tcp\""), std::string::npos);
}

TEST_F(Cli, BadArgumentsExit2WithUsage)
{
	for (auto args : std::vector<std::vector<std::string>>{{"snapshot", "--port", "0"},
							       {"snapshot", "--bogus"},
							       {"snapshot", "-4", "-6"},
							       {"--attach=sideways", "probe"},
							       {}}) {
		args.insert(args.begin(), LISTENQ_BIN);
		RunResult r = run_program(args);
		EXPECT_EQ(r.exit_code, 2) << r.err;
		EXPECT_NE(r.err.find("Usage:"), std::string::npos) << r.err;
	}
}

TEST_F(Cli, ProbeReportsThisNetnsSomaxconn)
{
	std::ofstream("/proc/sys/net/core/somaxconn") << "555";
	RunResult r = run_program({LISTENQ_BIN, "probe", "--json"});
	ASSERT_EQ(r.exit_code, 0) << r.err;
	EXPECT_NE(r.out.find("\"somaxconn\": 555"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("\"iter_tcp\""), std::string::npos);
}

}  // namespace
