#include <gtest/gtest.h>

#include <sstream>

#include "cli/options.h"

using namespace listenq;

namespace {

struct Parsed {
	ParseOutcome p;
	std::string out, err;
};

Parsed parse(std::vector<std::string> args)
{
	std::ostringstream out, err;
	Parsed r{parse_cli(args, out, err), "", ""};
	r.out = out.str();
	r.err = err.str();
	return r;
}

TEST(Cli, SnapshotFlags)
{
	auto r = parse({"snapshot", "-4", "--port", "8080", "--json", "-n", "-p"});
	ASSERT_TRUE(r.p.options) << r.err;
	const Options &o = *r.p.options;
	EXPECT_EQ(o.command, "snapshot");
	EXPECT_TRUE(o.filter.ipv4_only);
	EXPECT_FALSE(o.filter.ipv6_only);
	EXPECT_EQ(o.filter.port, 8080);
	EXPECT_TRUE(o.snapshot.json);
	EXPECT_TRUE(o.snapshot.numeric);
	EXPECT_TRUE(o.snapshot.processes);
	EXPECT_EQ(o.common.attach, AttachMode::automatic);
}

TEST(Cli, GlobalOptionsBeforeOrAfterTheCommand)
{
	for (auto args : {std::vector<std::string>{"--btf", "/x.btf", "--attach=kprobe", "probe", "--json"},
			  std::vector<std::string>{"probe", "--json", "--btf", "/x.btf", "--attach", "kprobe"}}) {
		auto r = parse(args);
		ASSERT_TRUE(r.p.options) << r.err;
		EXPECT_EQ(r.p.options->command, "probe");
		EXPECT_EQ(r.p.options->common.btf, "/x.btf");
		EXPECT_EQ(r.p.options->common.attach, AttachMode::kprobe);
		EXPECT_TRUE(r.p.options->probe.json);
	}
}

TEST(Cli, UsageErrorsExit2WithUsageOnStderr)
{
	for (auto args : std::vector<std::vector<std::string>>{{},
							       {"nosuchcommand"},
							       {"snapshot", "--port", "0"},
							       {"snapshot", "--port", "65536"},
							       {"snapshot", "--port", "http"},
							       {"snapshot", "--bogus"},
							       {"snapshot", "-4", "-6"},
							       {"--attach=sideways", "probe"}}) {
		auto r = parse(args);
		EXPECT_FALSE(r.p.options);
		EXPECT_EQ(r.p.exit_code, 2) << testing::PrintToString(args);
		EXPECT_EQ(r.err.rfind("listenq: ", 0), 0u) << r.err;
		EXPECT_NE(r.err.find("Usage:"), std::string::npos) << r.err;
		EXPECT_TRUE(r.out.empty());
	}
}

TEST(Cli, HelpHasExamplesAndExits0)
{
	for (auto args : std::vector<std::vector<std::string>>{{"--help"}, {"snapshot", "--help"}, {"probe", "-h"}}) {
		auto r = parse(args);
		EXPECT_FALSE(r.p.options);
		EXPECT_EQ(r.p.exit_code, 0);
		EXPECT_NE(r.out.find("EXAMPLES:"), std::string::npos) << r.out;
	}
	auto snap = parse({"snapshot", "--help"});
	EXPECT_NE(snap.out.find("Recv-Q = accept queue"), std::string::npos);
}

TEST(Cli, Version)
{
	auto r = parse({"--version"});
	EXPECT_EQ(r.p.exit_code, 0);
	EXPECT_EQ(r.out.rfind("listenq ", 0), 0u);
}

TEST(Cli, AttachModesRoundTrip)
{
	for (auto m : {AttachMode::automatic, AttachMode::fentry, AttachMode::kprobe, AttachMode::tracepoint})
		EXPECT_EQ(parse_attach_mode(attach_mode_name(m)), m);
	EXPECT_FALSE(parse_attach_mode("trampoline"));
}

}  // namespace
