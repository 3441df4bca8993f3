#include "util/private_mount.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "util/unique_fd.h"

namespace listenq {

std::optional<std::string> read_via_private_mount(const std::string &fstype, const std::string &mountpoint,
						  const std::string &file)
{
	int p[2];
	if (::pipe2(p, O_CLOEXEC) != 0)
		return std::nullopt;
	UniqueFd rd(p[0]), wr(p[1]);
	pid_t pid = ::fork();
	if (pid < 0)
		return std::nullopt;
	if (pid == 0) {
		rd.reset();
		if (::unshare(CLONE_NEWNS) != 0 ||
		    ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
		    ::mount(fstype.c_str(), mountpoint.c_str(), fstype.c_str(), 0, nullptr) != 0)
			::_exit(1);
		std::ifstream in(mountpoint + "/" + file);
		std::ostringstream ss;
		ss << in.rdbuf();
		std::string s = ss.str();
		ssize_t n = ::write(wr.get(), s.data(), s.size());
		::_exit(in && n == static_cast<ssize_t>(s.size()) ? 0 : 1);
	}
	wr.reset();
	std::string out;
	char buf[4096];
	ssize_t n;
	while ((n = ::read(rd.get(), buf, sizeof(buf))) > 0)
		out.append(buf, static_cast<std::size_t>(n));
	int status = 0;
	::waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return std::nullopt;
	return out;
}

}  // namespace listenq
