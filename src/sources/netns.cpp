#include "sources/netns.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <cctype>
#include <cstring>
#include <map>

#include "util/unique_fd.h"

namespace listenq {

namespace {

void add_ns(std::map<std::uint32_t, std::string> &seen, const std::string &path)
{
	struct stat st;
	if (::stat(path.c_str(), &st) == 0)
		seen.emplace(static_cast<std::uint32_t>(st.st_ino), path);
}

bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!std::isdigit(static_cast<unsigned char>(*s)))
			return false;
	return true;
}

void each_entry(const std::string &dir, const std::function<void(const char *)> &fn)
{
	DIR *d = ::opendir(dir.c_str());
	if (!d)
		return;
	while (dirent *e = ::readdir(d))
		fn(e->d_name);
	::closedir(d);
}

}  // namespace

std::vector<NetnsRef> list_netns(const std::string &proc_root, const std::string &run_netns)
{
	std::map<std::uint32_t, std::string> seen;
	each_entry(proc_root, [&](const char *name) {
		if (all_digits(name))
			add_ns(seen, proc_root + "/" + name + "/ns/net");
	});
	each_entry(run_netns, [&](const char *name) {
		if (name[0] != '.')
			add_ns(seen, run_netns + "/" + name);
	});
	std::vector<NetnsRef> out;
	for (auto &[inode, path] : seen)
		out.push_back({inode, path});
	return out;
}

Result<void> in_netns(const std::string &path, const std::function<Result<void>()> &fn)
{
	UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
	if (!home.valid())
		return Error::from_errno(errno, "open /proc/thread-self/ns/net");
	UniqueFd target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
	if (!target.valid())
		return Error::from_errno(errno, "open " + path);
	if (::setns(target.get(), CLONE_NEWNET) != 0)
		return Error::from_errno(errno, "setns " + path);
	Result<void> r = fn();
	if (::setns(home.get(), CLONE_NEWNET) != 0)
		return Error{ENOTRECOVERABLE, "setns back to our own netns from " + path + ": " + std::strerror(errno)};
	return r;
}

}  // namespace listenq
