#include "util/files.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace listenq {

Result<std::string> read_file(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		return Error::from_errno(errno, "open " + path);
	std::ostringstream ss;
	ss << in.rdbuf();
	if (in.bad())
		return Error::from_errno(errno, "read " + path);
	return ss.str();
}

std::optional<std::string> read_first_line(const std::string &path)
{
	std::ifstream in(path);
	std::string line;
	if (!in || !std::getline(in, line))
		return std::nullopt;
	return line;
}

Result<void> write_file(const std::string &path, const std::string &text)
{
	std::ofstream out(path);
	if (!out)
		return Error::from_errno(errno, "open " + path);
	out << text;
	out.flush();
	if (!out)
		return Error::from_errno(errno, "write " + path);
	return {};
}

bool path_exists(const std::string &path)
{
	struct stat st;
	return ::stat(path.c_str(), &st) == 0;
}

}  // namespace listenq
