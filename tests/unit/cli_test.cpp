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

namespace {

TEST(Cli, VerifyOptions)
{
	auto r = parse({"verify", "--sources", "bpf,proc", "--emulate-no-tcp-diag", "--rereads", "2", "--json",
			"--port", "80", "-6"});
	ASSERT_TRUE(r.p.options) << r.err;
	const Options &o = *r.p.options;
	EXPECT_EQ(o.command, "verify");
	EXPECT_EQ(o.verify.sources, "bpf,proc");
	EXPECT_TRUE(o.verify.emulate_no_tcp_diag);
	EXPECT_EQ(o.verify.rereads, 2);
	EXPECT_TRUE(o.verify.json);
	EXPECT_EQ(o.filter.port, 80);
	EXPECT_TRUE(o.filter.ipv6_only);
	EXPECT_FALSE(o.filter.to_filter().ipv4);
	EXPECT_EQ(parse({"verify", "--rereads", "-1"}).p.exit_code, 2);
}

TEST(Cli, SsTakesBundledShortFlags)
{
	for (auto flags : {"-lnt", "-ltn", "-tln", "-lntp", "-ltnpH"}) {
		auto r = parse({"ss", flags});
		ASSERT_TRUE(r.p.options) << flags << r.err;
		EXPECT_EQ(r.p.options->command, "ss");
		EXPECT_TRUE(r.p.options->ss.numeric);
		EXPECT_EQ(r.p.options->ss.processes, std::string(flags).find('p') != std::string::npos);
		EXPECT_EQ(r.p.options->ss.no_header, std::string(flags).find('H') != std::string::npos);
		EXPECT_EQ(r.p.options->ss.source, "auto");
	}
	auto r = parse({"ss", "-lnt", "-4", "--source", "bpf"});
	ASSERT_TRUE(r.p.options);
	EXPECT_TRUE(r.p.options->filter.ipv4_only);
	EXPECT_EQ(r.p.options->ss.source, "bpf");
	EXPECT_EQ(parse({"ss", "-lnu"}).p.exit_code, 2);  // UDP is not ours
	EXPECT_EQ(parse({"ss", "--source", "kernel"}).p.exit_code, 2);
}

}  // namespace

namespace {

TEST(Cli, WatchPositionalIntervalAndCount)
{
	auto r = parse({"watch", "2.5", "10", "--json", "--port", "80", "--pid", "42", "--sample-ms", "50"});
	ASSERT_TRUE(r.p.options) << r.err;
	const Options &o = *r.p.options;
	EXPECT_EQ(o.command, "watch");
	EXPECT_DOUBLE_EQ(o.tracing.interval, 2.5);
	EXPECT_EQ(o.tracing.count, 10u);
	EXPECT_TRUE(o.tracing.json);
	EXPECT_EQ(o.tracing.pid, 42u);
	EXPECT_EQ(o.tracing.sample_ms, 50u);
	EXPECT_EQ(o.filter.port, 80);
	EXPECT_EQ(parse({"watch", "0"}).p.exit_code, 2);
	EXPECT_EQ(parse({"watch", "1", "--sample-ms", "1"}).p.exit_code, 2);
}

TEST(Cli, ExportOptions)
{
	auto r = parse({"export", "--listen", "[::1]:9000", "--port", "443", "--sample-ms", "50"});
	ASSERT_TRUE(r.p.options) << r.err;
	EXPECT_EQ(r.p.options->command, "export");
	EXPECT_EQ(r.p.options->exporter.listen, "[::1]:9000");
	EXPECT_FALSE(r.p.options->exporter.once);
	// export's --port is an allow-list, applied by export (not the filter)
	EXPECT_FALSE(r.p.options->filter.port);
	EXPECT_TRUE(r.p.options->exporter.ports.contains(443));
	EXPECT_FALSE(r.p.options->exporter.ports.contains(80));
	EXPECT_EQ(r.p.options->tracing.sample_ms, 50u);
	r = parse({"export", "--once"});
	ASSERT_TRUE(r.p.options) << r.err;
	EXPECT_EQ(r.p.options->exporter.listen, "127.0.0.1:9464");
	EXPECT_TRUE(r.p.options->exporter.once);
	EXPECT_EQ(r.p.options->exporter.metrics, "default");
	EXPECT_EQ(r.p.options->exporter.group_by, "auto");
	EXPECT_EQ(r.p.options->exporter.top, 0u);
	EXPECT_TRUE(r.p.options->exporter.ports.empty());
	r = parse({"export", "--metrics", "default,accept_queue_peak", "--group-by", "port", "--top", "20", "--port",
		   "80,443,8000-8099"});
	ASSERT_TRUE(r.p.options) << r.err;
	EXPECT_EQ(r.p.options->exporter.metrics, "default,accept_queue_peak");
	EXPECT_EQ(r.p.options->exporter.group_by, "port");
	EXPECT_EQ(r.p.options->exporter.top, 20u);
	for (std::uint16_t p : {80, 443, 8000, 8050, 8099})
		EXPECT_TRUE(r.p.options->exporter.ports.contains(p)) << p;
	for (std::uint16_t p : {81, 7999, 8100})
		EXPECT_FALSE(r.p.options->exporter.ports.contains(p)) << p;
	// One line names what is wrong, then the usage.
	for (auto [bad, why] : std::vector<std::pair<std::vector<std::string>, std::string>>{
		     {{"export", "--metrics", "default,queue"}, "--metrics default,queue: \"queue\" is not default, full"},
		     {{"export", "--metrics", ""}, "--metrics : expected default, full or a list"},
		     {{"export", "--port", "80,http"}, "--port 80,http: \"http\" is not a port (1-65535) or a range"},
		     {{"export", "--port", "90-80"}, "--port 90-80: \"90-80\": the range ends before it starts"},
		     {{"export", "--port", "0"}, "--port 0: \"0\" is not a port"},
		     {{"export", "--group-by", "netns"}, "--group-by: netns not in {auto,listener,port}"},
		     {{"export", "--top", "0"}, "--top"}}) {
		r = parse(bad);
		EXPECT_FALSE(r.p.options) << bad.back();
		EXPECT_EQ(r.p.exit_code, 2);
		EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
	}
	for (auto bad : std::vector<std::vector<std::string>>{
		     {"export", "--listen", "9464"}, {"export", "--listen", "::1:9464"}, {"export", "--json"}}) {
		r = parse(bad);
		EXPECT_FALSE(r.p.options) << bad.back();
		EXPECT_EQ(r.p.exit_code, 2);
		EXPECT_NE(r.err.find("Usage:"), std::string::npos) << r.err;
	}
}

TEST(Cli, DemoOptions)
{
	auto r = parse({"demo"});
	ASSERT_TRUE(r.p.options) << r.err;
	EXPECT_EQ(r.p.options->demo.backlog, 8);
	EXPECT_EQ(r.p.options->demo.burst, 64);
	r = parse({"demo", "--seconds", "2", "--backlog", "4", "--burst", "100", "--accept-ms", "10"});
	ASSERT_TRUE(r.p.options) << r.err;
	EXPECT_EQ(r.p.options->demo.seconds, 2);
	EXPECT_EQ(r.p.options->demo.backlog, 4);
	EXPECT_EQ(r.p.options->demo.burst, 100);
	EXPECT_EQ(r.p.options->demo.accept_ms, 10u);
	for (auto bad : std::vector<std::vector<std::string>>{{"demo", "--seconds", "0"}, {"demo", "--backlog", "0"},
							      {"demo", "--burst", "5000"}}) {
		r = parse(bad);
		EXPECT_EQ(r.p.exit_code, 2) << bad[1];
	}
}

TEST(Cli, TraceOptions)
{
	auto r = parse({"--attach=tracepoint", "trace", "--duration", "3", "--netns", "4026531840", "-6"});
	ASSERT_TRUE(r.p.options) << r.err;
	EXPECT_EQ(r.p.options->common.attach, AttachMode::tracepoint);
	EXPECT_DOUBLE_EQ(r.p.options->tracing.duration, 3.0);
	EXPECT_EQ(r.p.options->tracing.netns, 4026531840u);
	EXPECT_TRUE(r.p.options->filter.ipv6_only);
	EXPECT_EQ(parse({"trace", "--duration", "-1"}).p.exit_code, 2);
}

}  // namespace

namespace {

TEST(Cli, AttachDefaultFromEnvironment)
{
	::setenv("LISTENQ_ATTACH", "tracepoint", 1);
	auto r = parse({"probe"});
	ASSERT_TRUE(r.p.options);
	EXPECT_EQ(r.p.options->common.attach, AttachMode::tracepoint);
	auto flag = parse({"--attach=fentry", "probe"});  // the flag wins
	ASSERT_TRUE(flag.p.options);
	EXPECT_EQ(flag.p.options->common.attach, AttachMode::fentry);
	::setenv("LISTENQ_ATTACH", "sideways", 1);
	EXPECT_EQ(parse({"probe"}).p.exit_code, 2);
	::unsetenv("LISTENQ_ATTACH");
}

}  // namespace
