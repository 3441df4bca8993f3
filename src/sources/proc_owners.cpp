#include "sources/proc_owners.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <tuple>

#include "util/files.h"

namespace listenq {

namespace {

struct DirCloser {
	void operator()(DIR *d) const { closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

}  // namespace

std::uint64_t parse_socket_link(const std::string &link)
{
	constexpr std::string_view prefix = "socket:[";
	if (link.size() <= prefix.size() + 1 || link.compare(0, prefix.size(), prefix) != 0 || link.back() != ']')
		return 0;
	std::uint64_t v = 0;
	for (std::size_t i = prefix.size(); i + 1 < link.size(); i++) {
		if (link[i] < '0' || link[i] > '9')
			return 0;
		v = v * 10 + static_cast<std::uint64_t>(link[i] - '0');
	}
	return v;
}

void each_socket_fd(const std::function<bool(std::uint64_t inode)> &wanted,
		    const std::function<void(std::uint64_t inode, const ProcessRef &who)> &fn, const std::string &proc_root)
{
	DirPtr proc(opendir(proc_root.c_str()));
	if (!proc)
		return;
	std::string pid_dir, fd_path;
	ProcessRef who;
	while (dirent *pe = readdir(proc.get())) {
		if (!all_digits(pe->d_name))
			continue;
		pid_dir.assign(proc_root).append("/").append(pe->d_name);
		DirPtr fds(opendir((pid_dir + "/fd").c_str()));
		if (!fds)
			continue;
		who.pid = std::atoi(pe->d_name);
		who.comm.clear();
		while (dirent *fe = readdir(fds.get())) {
			if (!all_digits(fe->d_name))
				continue;
			char link[64];
			fd_path.assign(pid_dir).append("/fd/").append(fe->d_name);
			ssize_t n = readlink(fd_path.c_str(), link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			std::uint64_t ino = parse_socket_link(std::string(link, static_cast<std::size_t>(n)));
			if (!ino || !wanted(ino))
				continue;
			if (who.comm.empty())
				who.comm = read_first_line(pid_dir + "/comm").value_or("?");
			who.fd = std::atoi(fe->d_name);
			fn(ino, who);
		}
	}
}

std::unordered_map<std::uint64_t, std::vector<ProcessRef>>
scan_socket_owners(const std::unordered_set<std::uint64_t> &wanted, const std::string &proc_root)
{
	std::unordered_map<std::uint64_t, std::vector<ProcessRef>> out;
	if (wanted.empty())
		return out;
	each_socket_fd([&](std::uint64_t ino) { return wanted.count(ino) > 0; },
		       [&](std::uint64_t ino, const ProcessRef &who) { out[ino].push_back(who); }, proc_root);
	for (auto &[ino, refs] : out)
		std::sort(refs.begin(), refs.end(),
			  [](const ProcessRef &a, const ProcessRef &b) { return std::tie(a.pid, a.fd) < std::tie(b.pid, b.fd); });
	return out;
}

void attach_owners(std::vector<Listener> &listeners, const std::string &proc_root)
{
	std::unordered_set<std::uint64_t> wanted;
	for (const auto &l : listeners)
		if (l.inode)
			wanted.insert(l.inode);
	auto owners = scan_socket_owners(wanted, proc_root);
	for (auto &l : listeners)
		if (auto it = owners.find(l.inode); it != owners.end())
			l.processes = it->second;
}

std::string read_cmdline(std::uint32_t pid, const std::string &proc_root)
{
	auto s = read_file(proc_root + "/" + std::to_string(pid) + "/cmdline");
	if (!s)
		return {};
	std::string c = *s;
	for (char &ch : c)
		if (ch == '\0')
			ch = ' ';
	while (!c.empty() && c.back() == ' ')
		c.pop_back();
	return c;
}

std::string read_process_state(std::uint32_t pid, const std::string &proc_root)
{
	std::ifstream in(proc_root + "/" + std::to_string(pid) + "/status");
	std::string line;
	while (std::getline(in, line))
		if (line.rfind("State:", 0) == 0) {
			const auto v = line.find_first_not_of(" \t", 6);
			return v == std::string::npos ? "" : line.substr(v);
		}
	return {};
}

std::optional<std::uint32_t> read_sysctl_u32(const std::string &name)
{
	auto s = read_first_line("/proc/sys/" + name);
	if (!s)
		return std::nullopt;
	try {
		return static_cast<std::uint32_t>(std::stoul(*s));
	} catch (...) {
		return std::nullopt;
	}
}

}  // namespace listenq
