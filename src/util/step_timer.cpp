#include "util/step_timer.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "util/clock.h"

namespace listenq::timing {
namespace {

bool g_on = false;
std::uint64_t g_start = 0, g_last = 0;
std::vector<std::pair<const char *, std::uint64_t>> g_steps;

}  // namespace

void start()
{
	const char *v = std::getenv("LISTENQ_TIMING");
	g_on = v && *v && std::string(v) != "0";
	if (!g_on)
		return;
	g_steps.reserve(32);
	g_start = g_last = monotonic_ns();
}

bool enabled() { return g_on; }

void mark(const char *step)
{
	if (!g_on)
		return;
	const std::uint64_t now = monotonic_ns();
	g_steps.emplace_back(step, now - g_last);
	g_last = now;
}

void report()
{
	if (!g_on)
		return;
	g_on = false;
	std::string line = "listenq timing:";
	char buf[96];
	for (const auto &[step, ns] : g_steps) {
		std::snprintf(buf, sizeof(buf), " %s %.3f ms,", step, static_cast<double>(ns) / 1e6);
		line += buf;
	}
	std::snprintf(buf, sizeof(buf), " total %.3f ms\n", static_cast<double>(monotonic_ns() - g_start) / 1e6);
	line += buf;
	std::fputs(line.c_str(), stderr);
}

}  // namespace listenq::timing
