#include "bpf/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <deque>
#include <mutex>

namespace listenq {
namespace {

std::mutex g_mu;
std::deque<std::string> g_lines;
bool g_verbose = false;
constexpr std::size_t kKeep = 40;

int print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char buf[1024];
	va_list copy;
	va_copy(copy, args);
	std::vsnprintf(buf, sizeof(buf), fmt, copy);
	va_end(copy);
	std::lock_guard lk(g_mu);
	if (g_verbose)
		std::fputs(buf, stderr);
	if (level != LIBBPF_DEBUG) {
		g_lines.emplace_back(buf);
		if (g_lines.size() > kKeep)
			g_lines.pop_front();
	}
	return 0;
}

}  // namespace

void install_libbpf_logger(bool verbose)
{
	g_verbose = verbose;
	libbpf_set_print(print_fn);
}

std::string libbpf_recent_log()
{
	std::lock_guard lk(g_mu);
	std::string out;
	for (const auto &l : g_lines)
		out += l;
	return out;
}

void clear_libbpf_log()
{
	std::lock_guard lk(g_mu);
	g_lines.clear();
}

}  // namespace listenq
