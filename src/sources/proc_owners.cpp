#include "sources/proc_owners.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
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

std::unordered_map<std::uint64_t, std::vector<ProcessRef>>
scan_socket_owners(const std::unordered_set<std::uint64_t> &wanted, const std::string &proc_root)
{
	std::unordered_map<std::uint64_t, std::vector<ProcessRef>> out;
	if (wanted.empty())
		return out;
	DirPtr proc(opendir(proc_root.c_str()));
	if (!proc)
		return out;
	while (dirent *pe = readdir(proc.get())) {
		if (!all_digits(pe->d_name))
			continue;
		const std::string pid_dir = proc_root + "/" + pe->d_name;
		DirPtr fds(opendir((pid_dir + "/fd").c_str()));
		if (!fds)
			continue;
		std::string comm;
		while (dirent *fe = readdir(fds.get())) {
			if (!all_digits(fe->d_name))
				continue;
			char link[64];
			ssize_t n = readlink((pid_dir + "/fd/" + fe->d_name).c_str(), link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			std::uint64_t ino = parse_socket_link(std::string(link, static_cast<std::size_t>(n)));
			if (!ino || !wanted.count(ino))
				continue;
			if (comm.empty())
				comm = read_first_line(pid_dir + "/comm").value_or("?");
			out[ino].push_back(ProcessRef{std::atoi(pe->d_name), std::atoi(fe->d_name), comm});
		}
	}
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

}  // namespace listenq
