#include "render/ss_render.h"

#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <tuple>

#include "util/files.h"

namespace listenq {

namespace {

enum class Align { left, right };

struct Column {
	const char *header;
	const char *ldelim;
	Align align;
	std::size_t width = 0;
};

std::string pad6(std::uint32_t v)
{
	char buf[16];
	std::snprintf(buf, sizeof(buf), "%-6u", v);
	return buf;
}

bool is_any(const Listener &l)
{
	return std::all_of(l.addr.begin(), l.addr.end(), [](std::uint8_t b) { return b == 0; });
}

// ss's inet_addr_print(): IPv6 wildcard is "*" unless V6ONLY; numeric
// IPv6 addresses are bracketed.
std::string ss_addr(const Listener &l, bool peer, const SsFormat &f)
{
	std::string a;
	if (l.family == AF_INET6 && (peer || is_any(l)) && !l.ipv6only)
		a = "*";
	else if (peer)
		a = l.family == AF_INET6 ? "[::]" : "0.0.0.0";
	else {
		a = format_address(l.family, l.addr);
		if (a.find(':') != std::string::npos)
			a = "[" + a + "]";
	}
	if (!peer && l.bound_dev_if && f.ifname)
		a += "%" + f.ifname(l.bound_dev_if);
	return a;
}

std::string ss_port(std::uint16_t port, const SsFormat &f)
{
	if (port == 0)
		return "*";
	if (!f.numeric && f.service_name && (port < f.ephemeral.first || port > f.ephemeral.second))
		if (std::string s = f.service_name(port); !s.empty())
			return s;
	return std::to_string(port);
}

// Widths as ss's render_calc_width(): measured content plus the left
// delimiter; on a terminal the spare width is spread over the columns.
void calc_widths(std::vector<Column> &cols, const std::vector<std::vector<std::string>> &lines, int screen)
{
	bool first = true;
	for (std::size_t c = 0; c < cols.size(); c++) {
		std::size_t max_len = 0;
		for (const auto &l : lines)
			max_len = std::max(max_len, l[c].size());
		cols[c].width = (!first && max_len) ? max_len + std::strlen(cols[c].ldelim) : max_len;
		if (screen >= 0)
			cols[c].width = std::min<std::size_t>(cols[c].width, static_cast<std::size_t>(screen));
		if (cols[c].width)
			first = false;
	}
	if (screen < 0)
		return;
	const std::size_t sw = static_cast<std::size_t>(screen);
	std::size_t len = 0, linecols = 0;
	long eol = -1;
	for (long c = 0; c < static_cast<long>(cols.size()); c++) {
		if (!cols[c].width)
			continue;
		linecols++;
		len += cols[c].width;
		bool last = true;
		for (std::size_t t = static_cast<std::size_t>(c) + 1; t < cols.size(); t++)
			if (cols[t].width) {
				last = false;
				break;
			}
		if (!last && len < sw)
			continue;
		if (len != sw) {
			if (len > sw) {
				len -= cols[c].width;
				c--;
				linecols--;
			}
			const std::size_t spare = sw - len;
			std::size_t spacing = linecols ? spare / linecols : 0, rem = linecols ? spare % linecols : 0;
			for (long t = c; t > eol; t--) {
				if (!cols[t].width)
					continue;
				cols[t].width += spacing;
				if (rem) {
					cols[t].width++;
					rem--;
				}
			}
		}
		eol = c;
		len = 0;
		linecols = 0;
	}
}

}  // namespace

SsRow ss_row_from_listener(const Listener &l, const SsFormat &f)
{
	SsRow r;
	r.recv_q = l.accept_queue;
	r.send_q = l.backlog;
	r.local_addr = ss_addr(l, false, f);
	r.local_port = ss_port(l.port, f);
	r.peer_addr = ss_addr(l, true, f);
	if (f.show_processes && !l.processes.empty())
		r.process = ss_users(l.processes);
	return r;
}

std::string ss_users(std::vector<ProcessRef> procs)
{
	std::sort(procs.begin(), procs.end(),
		  [](const ProcessRef &a, const ProcessRef &b) { return std::tie(a.pid, a.fd) > std::tie(b.pid, b.fd); });
	std::string out = "users:(";
	for (std::size_t i = 0; i < procs.size(); i++) {
		if (i)
			out += ',';
		out += "(\"" + procs[i].comm + "\",pid=" + std::to_string(procs[i].pid) +
		       ",fd=" + std::to_string(procs[i].fd) + ")";
	}
	return out + ")";
}

std::string render_ss(const std::vector<SsRow> &rows, const SsFormat &f, int screen_width)
{
	std::vector<Column> cols = {
		{"State", " ", Align::left},         {"Recv-Q", " ", Align::left},
		{"Send-Q", " ", Align::left},        {"Local Address:", " ", Align::right},
		{"Port", "", Align::left},           {"Peer Address:", " ", Align::right},
		{"Port", "", Align::left},           {"Process", "", Align::left},
		{"", "", Align::left},
	};
	std::vector<std::vector<std::string>> lines;
	if (f.header) {
		lines.push_back({});
		for (std::size_t c = 0; c + 1 < cols.size(); c++)
			lines.back().push_back(cols[c].header);
		lines.back().push_back("");
	}
	for (const SsRow &r : rows)
		lines.push_back({"LISTEN", pad6(r.recv_q), pad6(r.send_q), r.local_addr + ":", r.local_port,
				 r.peer_addr + ":", r.peer_port, r.process.empty() ? "" : " " + r.process, ""});
	calc_widths(cols, lines, screen_width);

	std::string out;
	for (const auto &l : lines) {
		for (std::size_t c = 0; c < cols.size(); c++) {
			std::size_t printed = 0;
			if (c) {
				out += cols[c].ldelim;
				printed = std::strlen(cols[c].ldelim);
			}
			const Column &col = cols[c];
			if (col.width && col.align == Align::right && col.width > l[c].size() + printed)
				out.append(col.width - l[c].size() - printed, ' ');
			out += l[c];
			printed += l[c].size();
			if (col.width && col.align == Align::left && col.width > printed)
				out.append(col.width - printed, ' ');
		}
		out += '\n';
	}
	return out;
}

std::pair<int, int> read_ephemeral_range()
{
	if (auto s = read_first_line("/proc/sys/net/ipv4/ip_local_port_range")) {
		int lo = 0, hi = 0;
		if (std::sscanf(s->c_str(), "%d %d", &lo, &hi) == 2)
			return {lo, hi};
	}
	return {1024, 4999};  // ss's own fallback
}

}  // namespace listenq
