#include "sources/tracefs.h"

#include <cerrno>
#include <mutex>
#include <sstream>

#include "util/files.h"
#include "util/private_mount.h"

namespace listenq {

namespace {

constexpr const char *kMounted[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};

}  // namespace

Result<std::map<std::string, int>> tracepoint_ids(const std::vector<std::string> &events)
{
	static std::mutex mu;
	static std::map<std::string, int> cache;
	std::lock_guard lk(mu);
	std::vector<std::string> missing;
	for (const auto &e : events)
		if (!cache.count(e))
			missing.push_back(e);
	if (!missing.empty()) {
		std::string root;
		for (const char *m : kMounted)
			if (path_exists(std::string(m) + "/events"))
				root = m;
		std::vector<std::string> files;
		for (const auto &e : missing)
			files.push_back("events/" + e + "/id");
		std::map<std::string, std::string> texts;
		if (!root.empty()) {
			for (std::size_t i = 0; i < files.size(); i++)
				if (auto t = read_first_line(root + "/" + files[i]))
					texts[missing[i]] = *t;
		} else {
			auto got = read_via_private_mount("tracefs", "/sys/kernel/tracing", files);
			if (!got)
				return Error{ENOENT, "tracefs is not mounted and cannot be mounted privately"};
			for (std::size_t i = 0; i < files.size(); i++)
				if (!(*got)[i].empty())
					texts[missing[i]] = (*got)[i];
		}
		for (auto &[e, t] : texts) {
			std::istringstream in(t);
			int id = -1;
			if (in >> id && id >= 0)
				cache[e] = id;
		}
	}
	std::map<std::string, int> out;
	for (const auto &e : events)
		if (auto it = cache.find(e); it != cache.end())
			out[e] = it->second;
	return out;
}

}  // namespace listenq
