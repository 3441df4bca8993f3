// The docs cover the command line and the metrics as they are: every
// subcommand and flag in the man page and the bash completion, EXAMPLES in
// every --help, every metric in docs/metrics.md, and a Grafana dashboard
// that only queries series the exporter writes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "cli/options.h"
#include "render/prom_render.h"

using namespace listenq;

namespace {

std::string read_source(const std::string &rel)
{
	std::ifstream f(std::string(LQ_SOURCE_DIR) + "/" + rel);
	EXPECT_TRUE(f) << rel;
	std::stringstream ss;
	ss << f.rdbuf();
	return ss.str();
}

// The man page as text: roff's escaped hyphen "\-" is a hyphen.
std::string man_text()
{
	return std::regex_replace(read_source("docs/listenq.8"), std::regex(R"(\\-)"), "-");
}

TEST(Docs, EveryCommandHasExamplesInItsHelp)
{
	for (const CliCommandSpec &c : describe_cli())
		EXPECT_NE(c.examples.find("EXAMPLES:"), std::string::npos) << (c.name.empty() ? "listenq" : c.name);
}

TEST(Docs, ManPageCoversEveryCommandAndFlag)
{
	const std::string man = man_text();
	for (const CliCommandSpec &c : describe_cli()) {
		if (!c.name.empty()) {
			EXPECT_NE(man.find(".SS " + c.name), std::string::npos) << "no section for " << c.name;
		}
		for (const std::string &f : c.flags)
			EXPECT_NE(man.find(f), std::string::npos) << (c.name.empty() ? "listenq" : c.name) << " " << f;
	}
	for (const char *must : {"LISTENQ_ATTACH", "LISTENQ_SKIP_FUNCTIONS", "EXIT STATUS", "tcp_diag"})
		EXPECT_NE(man.find(must), std::string::npos) << must;
}

// Every LISTENQ_* variable the code reads is in the top-level --help, the
// man page's ENVIRONMENT and docs/usage.md; and --help names every command
// in its EXAMPLES, with the exit codes.
TEST(Docs, EveryEnvironmentVariableAndCommandIsInTheHelp)
{
	std::set<std::string> vars;
	const std::regex getenv_re(R"re(getenv\("(LISTENQ_[A-Z_]+)"\))re");
	for (const auto &e : std::filesystem::recursive_directory_iterator(std::string(LQ_SOURCE_DIR) + "/src")) {
		if (!e.is_regular_file())
			continue;
		const std::string text = read_source(std::filesystem::relative(e.path(), LQ_SOURCE_DIR).string());
		for (std::sregex_iterator it(text.begin(), text.end(), getenv_re), end; it != end; ++it)
			vars.insert((*it)[1]);
	}
	ASSERT_GE(vars.size(), 5u) << "the scan found the variables";
	const auto specs = describe_cli();
	const std::string &top = specs.front().examples;
	const std::string man = man_text(), usage = read_source("docs/usage.md");
	for (const std::string &v : vars) {
		EXPECT_NE(top.find(v), std::string::npos) << v << " not in listenq --help";
		EXPECT_NE(man.find(".B " + v), std::string::npos) << v << " not in the man page's ENVIRONMENT";
		EXPECT_NE(usage.find(v), std::string::npos) << v << " not in docs/usage.md";
	}
	for (const CliCommandSpec &c : specs) {
		if (!c.name.empty()) {
			EXPECT_NE(top.find("listenq " + c.name), std::string::npos) << c.name << " not in the EXAMPLES of listenq --help";
		}
	}
	EXPECT_NE(top.find("EXIT CODES"), std::string::npos);
}

// What bash offers after `listenq CMD <TAB>`, from the completion script.
std::set<std::string> completions(const std::string &cmd)
{
	const std::string path = ::testing::TempDir() + "listenq_complete.sh";
	std::ofstream(path) << "source " << LQ_SOURCE_DIR << "/contrib/bash-completion/listenq\n"
			    << "COMP_WORDS=(listenq " << cmd << " '')\n"
			    << "COMP_CWORD=" << (cmd.empty() ? 1 : 2) << "\n"
			    << "_listenq\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n";
	std::set<std::string> words;
	FILE *p = ::popen(("bash " + path).c_str(), "r");
	if (!p)
		return words;
	char line[256];
	while (std::fgets(line, sizeof(line), p)) {
		std::string w(line);
		while (!w.empty() && (w.back() == '\n' || w.back() == ' '))
			w.pop_back();
		if (!w.empty())
			words.insert(w);
	}
	EXPECT_EQ(::pclose(p), 0) << path;
	return words;
}

TEST(Docs, BashCompletionOffersEveryCommandAndFlag)
{
	const auto specs = describe_cli();
	const std::set<std::string> top = completions("");
	for (const CliCommandSpec &c : specs) {
		if (c.name.empty()) {
			for (const std::string &f : c.flags)
				EXPECT_TRUE(top.count(f)) << "listenq " << f;
			continue;
		}
		EXPECT_TRUE(top.count(c.name)) << c.name;
		const std::set<std::string> offered = completions(c.name);
		for (const std::string &f : c.flags)
			EXPECT_TRUE(offered.count(f)) << "listenq " << c.name << " " << f;
		for (const std::string &o : offered) {  // and nothing the parser would refuse
			bool known = std::find(c.flags.begin(), c.flags.end(), o) != c.flags.end() ||
				     std::find(specs[0].flags.begin(), specs[0].flags.end(), o) != specs[0].flags.end();
			EXPECT_TRUE(known) << "listenq " << c.name << " offers " << o;
		}
	}
}

TEST(Docs, ManPageRendersWithoutWarnings)
{
	if (std::system("command -v nroff >/dev/null 2>&1") != 0)
		GTEST_SKIP() << "nroff not installed (groff-base, installed by scripts/deps.sh)";
	const std::string cmd = "nroff -man -ww " + std::string(LQ_SOURCE_DIR) + "/docs/listenq.8 2>&1 >/dev/null";
	FILE *p = ::popen(cmd.c_str(), "r");
	ASSERT_TRUE(p);
	std::string warnings;
	char buf[256];
	while (std::fgets(buf, sizeof(buf), p))
		warnings += buf;
	EXPECT_EQ(::pclose(p), 0);
	EXPECT_EQ(warnings, "");
}

TEST(Docs, MetricsDocListsEveryFamily)
{
	const std::string doc = read_source("docs/metrics.md");
	for (const std::string &s : prometheus_series_names()) {
		const std::string family = std::regex_replace(s, std::regex("_(bucket|sum|count)$"), "");
		EXPECT_NE(doc.find("`" + family + "`"), std::string::npos) << family;
	}
}

TEST(Docs, GrafanaDashboardQueriesOnlyExportedSeries)
{
	const nlohmann::json dash = nlohmann::json::parse(read_source("contrib/grafana/listenq.json"));
	const auto names = prometheus_series_names();
	const std::set<std::string> known(names.begin(), names.end());
	std::set<std::string> used;
	const std::regex series("listenq_[a-z_]+");
	std::size_t targets = 0;
	for (const auto &panel : dash.at("panels"))
		for (const auto &t : panel.value("targets", nlohmann::json::array())) {
			targets++;
			const std::string expr = t.at("expr");
			for (std::sregex_iterator it(expr.begin(), expr.end(), series), end; it != end; ++it)
				used.insert(it->str());
		}
	EXPECT_GE(targets, 6u);
	for (const std::string &u : used)
		EXPECT_TRUE(known.count(u)) << "the dashboard queries " << u << ", which export never writes";
	for (const char *must : {"listenq_listen_backlog", "listenq_accept_queue", "listenq_overflows_total",
				 "listenq_accept_queue_oldest_wait_seconds", "listenq_accept_queue_oldest_wait_peak_seconds",
				 "listenq_syn_queue", "listenq_socket_drops_total", "listenq_accept_wait_seconds_bucket",
				 "listenq_events_lost_total"})
		EXPECT_TRUE(used.count(must)) << must;
}

// The alerting rules (deploy/prometheus) read only series export writes, and
// each alert's runbook names a doctor finding (promtool tests them:
// tests/CMakeLists.txt, rules.promtool).
TEST(Docs, AlertRulesQueryOnlyExportedSeriesAndNameDoctorFindings)
{
	const std::string rules = read_source("deploy/prometheus/listenq.rules.yml");
	const auto names = prometheus_series_names();
	const std::set<std::string> known(names.begin(), names.end());
	const std::regex series("(^|[^:a-z_])(listenq_[a-z_]+)");
	std::set<std::string> used;
	for (std::sregex_iterator it(rules.begin(), rules.end(), series), end; it != end; ++it)
		used.insert((*it)[2].str());
	EXPECT_GE(used.size(), 8u);
	for (const std::string &u : used)
		EXPECT_TRUE(known.count(u)) << "the rules query " << u << ", which export never writes";
	const std::regex runbook("runbook: \"([^\"]*)\"");
	std::size_t alerts = 0, doctor = 0;
	for (std::sregex_iterator it(rules.begin(), rules.end(), runbook), end; it != end; ++it) {
		alerts++;
		const std::string text = (*it)[1].str();
		for (const char *id : {"accept_queue_overflow", "somaxconn_clamp", "syn_queue_pressure",
				       "backlog_below_demand", "listenq probe", "listenq-export"})
			if (text.find(id) != std::string::npos) {
				doctor++;
				break;
			}
	}
	EXPECT_EQ(alerts, 8u);
	EXPECT_EQ(doctor, alerts) << "each runbook names a doctor finding (or probe, for listenq's own health)";
}

}  // namespace
