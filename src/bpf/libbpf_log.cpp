#include "bpf/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>

#include "util/step_timer.h"

namespace listenq {
namespace {

std::mutex g_mu;
std::deque<std::string> g_lines;
bool g_verbose = false;
constexpr std::size_t kKeep = 40;
constexpr std::size_t kHead = 512, kTail = 1536;

// A verifier log comes as one message, and its verdict ("unknown func
// bpf_get_socket_cookie#46") is its last line: a long message keeps its
// start and its end.
std::string shorten(std::string m)
{
	if (m.size() <= kHead + kTail)
		return m;
	std::size_t head = m.rfind('\n', kHead), tail = m.find('\n', m.size() - kTail);
	head = head == std::string::npos ? kHead : head + 1;
	tail = tail == std::string::npos ? m.size() - kTail : tail + 1;
	return m.substr(0, head) + "...\n" + m.substr(tail);
}

int print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	// Debug lines are kept nowhere: not formatting them saves the CO-RE
	// pass hundreds of vsnprintf calls.
	if (level == LIBBPF_DEBUG && !g_verbose) {
		if (std::strncmp(fmt, "libbpf: loading kernel BTF", 26) == 0)
			timing::mark("load: vmlinux BTF");
		return 0;
	}
	va_list copy;
	va_copy(copy, args);
	int n = std::vsnprintf(nullptr, 0, fmt, copy);
	va_end(copy);
	std::string buf(n > 0 ? static_cast<std::size_t>(n) : 0, '\0');
	if (n > 0)
		std::vsnprintf(buf.data(), buf.size() + 1, fmt, args);
	std::lock_guard lk(g_mu);
	if (g_verbose)
		std::fputs(buf.c_str(), stderr);
	if (level != LIBBPF_DEBUG) {
		g_lines.push_back(shorten(std::move(buf)));
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
