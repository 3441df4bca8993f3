#include "sources/proc_net.h"

#include <sys/socket.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace listenq {

namespace {

constexpr std::string_view kListenState = "0A";

bool parse_hex(std::string_view s, std::uint32_t &out)
{
	if (s.empty() || s.size() > 8)
		return false;
	auto r = std::from_chars(s.data(), s.data() + s.size(), out, 16);
	return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parse_dec(std::string_view s, std::uint64_t &out)
{
	auto r = std::from_chars(s.data(), s.data() + s.size(), out, 10);
	return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// "0100007F:1F90" (IPv4) or 32 hex digits + ":PORT" (IPv6). Each 8-digit
// group is a u32 printed in host order (seq_printf "%08X" of the raw word).
bool parse_endpoint(std::string_view s, int family, Listener &l)
{
	const std::size_t words = family == AF_INET6 ? 4 : 1;
	if (s.size() != words * 8 + 5 || s[words * 8] != ':')
		return false;
	for (std::size_t w = 0; w < words; w++) {
		std::uint32_t v;
		if (!parse_hex(s.substr(w * 8, 8), v))
			return false;
		std::memcpy(l.addr.data() + w * 4, &v, 4);
	}
	std::uint32_t port;
	if (!parse_hex(s.substr(words * 8 + 1), port) || port > 0xffff)
		return false;
	l.port = static_cast<std::uint16_t>(port);
	return true;
}

Error bad_line(int family, int lineno, const std::string &why)
{
	return Error{EBADMSG, std::string("/proc/net/tcp") + (family == AF_INET6 ? "6" : "") + " line " +
				      std::to_string(lineno) + ": " + why};
}

}  // namespace

Result<std::vector<Listener>> parse_proc_net_tcp(std::istream &in, int family)
{
	std::vector<Listener> out;
	std::string line;
	int lineno = 0;
	while (std::getline(in, line)) {
		lineno++;
		std::istringstream ls(line);
		std::vector<std::string> f;
		for (std::string w; ls >> w;)
			f.push_back(w);
		if (f.empty() || (lineno == 1 && f[0] == "sl"))
			continue;
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
		if (f.size() < 10)
			return bad_line(family, lineno, "expected at least 10 fields, got " + std::to_string(f.size()));
		if (f[3] != kListenState)
			continue;
		Listener l;
		l.family = family;
		if (!parse_endpoint(f[1], family, l))
			return bad_line(family, lineno, "bad local address '" + f[1] + "'");
		auto colon = f[4].find(':');
		std::uint32_t tx, rx;
		if (colon == std::string::npos || !parse_hex(std::string_view(f[4]).substr(0, colon), tx) ||
		    !parse_hex(std::string_view(f[4]).substr(colon + 1), rx))
			return bad_line(family, lineno, "bad tx_queue:rx_queue '" + f[4] + "'");
		std::uint64_t uid, inode;
		if (!parse_dec(f[7], uid) || !parse_dec(f[9], inode))
			return bad_line(family, lineno, "bad uid or inode");
		l.accept_queue = rx;
		l.backlog = tx;
		l.uid = static_cast<std::uint32_t>(uid);
		l.inode = inode;
		out.push_back(std::move(l));
	}
	if (in.bad())
		return Error{EIO, "/proc/net/tcp: read error"};
	return out;
}

Result<std::vector<Listener>> read_proc_net_tcp(const ListenerFilter &filter, const std::string &proc_root)
{
	std::vector<Listener> out;
	for (auto [family, file] : {std::pair{AF_INET, "/net/tcp"}, std::pair{AF_INET6, "/net/tcp6"}}) {
		if ((family == AF_INET && !filter.ipv4) || (family == AF_INET6 && !filter.ipv6))
			continue;
		std::ifstream in(proc_root + file);
		if (!in) {
			if (family == AF_INET6 && errno == ENOENT)
				continue;  // kernel without IPv6
			return Error::from_errno(errno, "open " + proc_root + file);
		}
		auto rows = parse_proc_net_tcp(in, family);
		if (!rows)
			return rows.error();
		for (auto &l : *rows)
			if (filter.matches(l))
				out.push_back(std::move(l));
	}
	return out;
}

Result<NetstatCounters> parse_netstat(std::istream &in)
{
	NetstatCounters out;
	std::string names, values;
	int lineno = 0;
	while (std::getline(in, names)) {
		lineno++;
		if (names.empty())
			continue;
		if (!std::getline(in, values))
			return Error{EBADMSG, "netstat line " + std::to_string(lineno) + ": header without values"};
		lineno++;
		std::istringstream n(names), v(values);
		std::string np, vp;
		n >> np;
		v >> vp;
		if (np.empty() || np.back() != ':' || np != vp)
			return Error{EBADMSG, "netstat line " + std::to_string(lineno) + ": prefixes '" + np + "' and '" +
						      vp + "' do not pair"};
		auto &group = out[np.substr(0, np.size() - 1)];
		std::string key, val;
		while (n >> key) {
			if (!(v >> val))
				return Error{EBADMSG, "netstat line " + std::to_string(lineno) + ": fewer values than names"};
			std::int64_t sv;  // a few snmp values (Tcp MaxConn) are -1
			auto r = std::from_chars(val.data(), val.data() + val.size(), sv, 10);
			if (r.ec != std::errc() || r.ptr != val.data() + val.size())
				return Error{EBADMSG, "netstat line " + std::to_string(lineno) + ": bad value '" + val +
							      "' for " + key};
			group[key] = static_cast<std::uint64_t>(sv);
		}
		if (v >> val)
			return Error{EBADMSG, "netstat line " + std::to_string(lineno) + ": more values than names"};
	}
	return out;
}

namespace {

// The TcpExt counters ListenCounters holds, by their /proc/net/netstat names.
constexpr std::pair<std::string_view, std::uint64_t ListenCounters::*> kListenCounterNames[] = {
	{"ListenOverflows", &ListenCounters::listen_overflows},
	{"ListenDrops", &ListenCounters::listen_drops},
	{"TCPReqQFullDrop", &ListenCounters::reqq_full_drop},
	{"TCPReqQFullDoCookies", &ListenCounters::reqq_full_do_cookies},
	{"SyncookiesSent", &ListenCounters::syncookies_sent},
	{"SyncookiesRecv", &ListenCounters::syncookies_recv},
	{"SyncookiesFailed", &ListenCounters::syncookies_failed},
	{"EmbryonicRsts", &ListenCounters::embryonic_rsts},
	{"TCPSynRetrans", &ListenCounters::syn_retrans},
};

}  // namespace

Result<ListenCounters> listen_counters_from(const NetstatCounters &c)
{
	auto ext = c.find("TcpExt");
	if (ext == c.end())
		return Error{ENOENT, "no TcpExt counters"};
	ListenCounters lc;
	for (const auto &[name, field] : kListenCounterNames)
		if (auto it = ext->second.find(std::string(name)); it != ext->second.end())
			lc.*field = it->second;
	return lc;
}

namespace {

// The next line of text from pos (without its newline); pos moves past it.
std::string_view next_line(std::string_view text, std::size_t &pos)
{
	const std::size_t end = std::min(text.find('\n', pos), text.size());
	std::string_view line = text.substr(pos, end - pos);
	pos = end < text.size() ? end + 1 : end;
	return line;
}

// The next space-separated word of s from pos, or "" at its end.
std::string_view next_word(std::string_view s, std::size_t &pos)
{
	while (pos < s.size() && s[pos] == ' ')
		pos++;
	const std::size_t start = pos;
	while (pos < s.size() && s[pos] != ' ')
		pos++;
	return s.substr(start, pos - start);
}

}  // namespace

Result<ListenCounters> parse_listen_counters(std::string_view text)
{
	std::size_t pos = 0;
	std::string_view names, values;
	while (pos < text.size()) {
		std::string_view line = next_line(text, pos);
		if (!line.starts_with("TcpExt:"))
			continue;
		values = next_line(text, pos);
		names = line;
		break;
	}
	if (names.empty())
		return Error{ENOENT, "no TcpExt counters"};
	if (!values.starts_with("TcpExt:"))
		return Error{EBADMSG, "netstat: the TcpExt names are not followed by their values"};
	ListenCounters lc;
	std::size_t np = 7, vp = 7;  // past "TcpExt:"
	for (std::string_view key = next_word(names, np); !key.empty(); key = next_word(names, np)) {
		const std::string_view val = next_word(values, vp);
		if (val.empty())
			return Error{EBADMSG, "netstat: fewer TcpExt values than names"};
		for (const auto &[name, field] : kListenCounterNames)
			if (key == name) {
				auto r = std::from_chars(val.data(), val.data() + val.size(), lc.*field, 10);
				if (r.ec != std::errc() || r.ptr != val.data() + val.size())
					return Error{EBADMSG, "netstat: bad value '" + std::string(val) + "' for TcpExt " +
								      std::string(key)};
			}
	}
	if (!next_word(values, vp).empty())
		return Error{EBADMSG, "netstat: more TcpExt values than names"};
	return lc;
}

Result<ListenCounters> read_listen_counters(const std::string &proc_root)
{
	std::ifstream in(proc_root + "/net/netstat");
	if (!in)
		return Error::from_errno(errno, "open " + proc_root + "/net/netstat");
	auto c = parse_netstat(in);
	if (!c)
		return c.error();
	return listen_counters_from(*c);
}

}  // namespace listenq
