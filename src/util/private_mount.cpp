#include "util/private_mount.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>

#include "util/unique_fd.h"

namespace listenq {

namespace {

bool write_all(int fd, const void *p, std::size_t n)
{
	const char *c = static_cast<const char *>(p);
	while (n) {
		ssize_t w = ::write(fd, c, n);
		if (w <= 0)
			return false;
		c += w;
		n -= static_cast<std::size_t>(w);
	}
	return true;
}

}  // namespace

std::optional<std::vector<std::string>> read_via_private_mount(const std::string &fstype,
							       const std::string &mountpoint,
							       const std::vector<std::string> &files)
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
		// Each file as <u32 length><bytes>.
		for (const auto &file : files) {
			std::ifstream in(mountpoint + "/" + file);
			std::ostringstream ss;
			if (in)
				ss << in.rdbuf();
			const std::string s = ss.str();
			const auto n = static_cast<std::uint32_t>(s.size());
			if (!write_all(wr.get(), &n, sizeof(n)) || !write_all(wr.get(), s.data(), s.size()))
				::_exit(1);
		}
		::_exit(0);
	}
	wr.reset();
	std::string raw;
	char buf[4096];
	ssize_t n;
	while ((n = ::read(rd.get(), buf, sizeof(buf))) > 0)
		raw.append(buf, static_cast<std::size_t>(n));
	int status = 0;
	::waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return std::nullopt;
	std::vector<std::string> out;
	std::size_t at = 0;
	while (out.size() < files.size() && at + sizeof(std::uint32_t) <= raw.size()) {
		std::uint32_t len;
		raw.copy(reinterpret_cast<char *>(&len), sizeof(len), at);
		at += sizeof(len);
		if (at + len > raw.size())
			return std::nullopt;
		out.push_back(raw.substr(at, len));
		at += len;
	}
	if (out.size() != files.size())
		return std::nullopt;
	return out;
}

std::optional<std::string> read_via_private_mount(const std::string &fstype, const std::string &mountpoint,
						  const std::string &file)
{
	auto got = read_via_private_mount(fstype, mountpoint, std::vector<std::string>{file});
	if (!got || (*got)[0].empty())
		return std::nullopt;
	return (*got)[0];
}

}  // namespace listenq
