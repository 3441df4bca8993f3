#include "sources/cgroup.h"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <unistd.h>

#include "sources/container_names.h"
#include "util/files.h"

namespace listenq {

namespace {

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool is_hex(std::string_view s) { return std::all_of(s.begin(), s.end(), is_hex_digit); }

bool is_container_id(std::string_view s) { return s.size() == 64 && is_hex(s); }

// A pod UID as kubelet writes it into a cgroup name: a UUID with dashes
// (cgroupfs) or underscores (systemd slices: "-" separates slice levels),
// or 32 hex digits (a static pod's UID is a hash of its manifest).
// Returned with dashes; nullopt if s is not one.
std::optional<std::string> pod_uid_of(std::string_view s)
{
	if (s.size() == 32 && is_hex(s))
		return std::string(s);
	if (s.size() != 36)
		return std::nullopt;
	std::string out(s);
	for (std::size_t i = 0; i < out.size(); i++) {
		const bool sep = i == 8 || i == 13 || i == 18 || i == 23;
		if (sep && (out[i] == '_' || out[i] == '-'))
			out[i] = '-';
		else if (sep || !is_hex_digit(out[i]))
			return std::nullopt;
	}
	return out;
}

std::string_view strip_suffix(std::string_view s, std::string_view suffix)
{
	return s.ends_with(suffix) ? s.substr(0, s.size() - suffix.size()) : s;
}

// Container scopes and directories named "<prefix><64 hex>", with or
// without ".scope" (systemd driver, or the runtime's cgroupfs layout).
// The conmon monitors count as their container's.
struct ScopePrefix {
	std::string_view prefix, runtime;
};
constexpr ScopePrefix kScopes[] = {
	{"docker-", "docker"},           {"cri-containerd-", "containerd"}, {"crio-conmon-", "cri-o"},
	{"crio-", "cri-o"},              {"libpod-conmon-", "podman"},      {"libpod-", "podman"},
	{"nerdctl-", "containerd"},
};

// A systemd cgroupsPath ("slice:prefix:name") that a runtime on the
// cgroupfs driver made into one directory name (Falco's ":cri-containerd:").
constexpr ScopePrefix kColonPrefixes[] = {
	{"cri-containerd", "containerd"}, {"docker", "docker"}, {"crio", "cri-o"}, {"libpod", "podman"}};

// "kubepods-burstable-pod<uid>.slice", "kubepods-pod<uid>.slice" (guaranteed),
// also under a kubelet cgroup root ("kubelet-kubepods-besteffort-pod...").
bool parse_pod_slice(std::string_view c, CgroupInfo &out)
{
	if (!c.ends_with(".slice"))
		return false;
	c = strip_suffix(c, ".slice");
	const std::size_t at = c.rfind("-pod");
	if (at == std::string_view::npos)
		return false;
	const std::string_view head = c.substr(0, at);
	auto uid = pod_uid_of(c.substr(at + 4));
	if (!uid || head.find("kubepods") == std::string_view::npos)
		return false;
	out.pod_uid = *uid;
	out.qos = head.ends_with("-burstable")	? "burstable"
		  : head.ends_with("-besteffort") ? "besteffort"
						  : "guaranteed";
	return true;
}

bool parse_container(std::string_view c, std::string_view parent, CgroupInfo &out)
{
	if (is_container_id(c)) {
		out.container_id = std::string(c);
		out.runtime = parent == "docker" ? "docker" : "";
		return true;
	}
	const std::string_view bare = strip_suffix(c, ".scope");
	for (const ScopePrefix &p : kScopes)
		if (bare.starts_with(p.prefix) && is_container_id(bare.substr(p.prefix.size()))) {
			out.container_id = std::string(bare.substr(p.prefix.size()));
			out.runtime = std::string(p.runtime);
			return true;
		}
	const std::size_t c1 = c.find(':'), c2 = c.rfind(':');
	if (c1 == std::string_view::npos || c1 == c2 || !is_container_id(c.substr(c2 + 1)))
		return false;
	out.container_id = std::string(c.substr(c2 + 1));
	out.runtime.clear();
	for (const ScopePrefix &p : kColonPrefixes)
		if (c.substr(c1 + 1, c2 - c1 - 1) == p.prefix)
			out.runtime = std::string(p.runtime);
	parse_pod_slice(c.substr(0, c1), out);
	return true;
}

}  // namespace

Result<std::vector<CgroupLine>> parse_proc_cgroup(std::istream &in)
{
	std::vector<CgroupLine> out;
	std::string line;
	for (int n = 1; std::getline(in, line); n++) {
		if (line.empty())
			continue;
		// The path may hold ':' itself: split at the first two only.
		const std::size_t a = line.find(':');
		const std::size_t b = a == std::string::npos ? a : line.find(':', a + 1);
		CgroupLine l;
		const auto r = std::from_chars(line.data(), line.data() + (a == std::string::npos ? 0 : a), l.hierarchy);
		if (b == std::string::npos || r.ec != std::errc() || r.ptr != line.data() + a || l.hierarchy < 0 ||
		    b + 1 >= line.size() || line[b + 1] != '/')
			return Error{EINVAL, "/proc/PID/cgroup line " + std::to_string(n) + ": \"" + line +
						     "\" is not hierarchy:controllers:/path"};
		l.controllers = line.substr(a + 1, b - a - 1);
		// kernel/cgroup/cgroup.c proc_cgroup_show(): a dead v2 cgroup.
		l.path = std::string(strip_suffix(std::string_view(line).substr(b + 1), " (deleted)"));
		out.push_back(std::move(l));
	}
	return out;
}

std::optional<std::string> cgroup_v2_mount(std::istream &mounts)
{
	std::string line;
	while (std::getline(mounts, line)) {
		std::istringstream f(line);
		std::string dev, dir, type;
		if (!(f >> dev >> dir >> type) || type != "cgroup2")
			continue;
		// fs/proc_namespace.c mangle(): space, tab, newline, backslash as \ooo.
		std::string out;
		for (std::size_t i = 0; i < dir.size(); i++) {
			if (dir[i] == '\\' && i + 3 < dir.size()) {
				int v = 0;
				const auto r = std::from_chars(dir.data() + i + 1, dir.data() + i + 4, v, 8);
				if (r.ec == std::errc() && r.ptr == dir.data() + i + 4) {
					out += static_cast<char>(v);
					i += 3;
					continue;
				}
			}
			out += dir[i];
		}
		return out;
	}
	return std::nullopt;
}

// Layouts, as found in the projects that parse them (the unit test's
// table cites each): docker "system.slice/docker-<id>.scope" and
// "/docker/<id>"; Kubernetes "kubepods.slice/kubepods-<qos>.slice/
// kubepods-<qos>-pod<uid_>.slice/cri-containerd-<id>.scope" and
// "/kubepods/<qos>/pod<uid>/<id>", without the QoS level for guaranteed
// pods; CRI-O "crio-<id>.scope"; podman "machine.slice/libpod-<id>.scope",
// rootless under "user@UID.service/user.slice/", with "/container" below
// it when podman runs its own init.
CgroupInfo classify_cgroup(std::string_view path)
{
	CgroupInfo out;
	out.path = std::string(path);
	bool kubepods = false;
	std::string_view parent;
	for (std::size_t start = 0; start <= path.size();) {
		std::size_t end = path.find('/', start);
		if (end == std::string_view::npos)
			end = path.size();
		const std::string_view c = path.substr(start, end - start);
		start = end + 1;
		if (c.empty())
			continue;
		if (c.find("kubepods") != std::string_view::npos)
			kubepods = true;
		CgroupInfo found;
		if (parse_container(c, parent, found)) {
			// The innermost container wins (a nested runtime's).
			out.container_id = found.container_id;
			out.runtime = found.runtime;
			if (!found.pod_uid.empty()) {
				out.pod_uid = found.pod_uid;
				out.qos = found.qos;
			}
		} else if (parse_pod_slice(c, found)) {
			out.pod_uid = found.pod_uid;
			out.qos = found.qos;
		} else if (kubepods && c.starts_with("pod") && pod_uid_of(c.substr(3))) {
			out.pod_uid = *pod_uid_of(c.substr(3));
			out.qos = parent == "burstable" || parent == "besteffort" ? std::string(parent) : "guaranteed";
		} else if (c.ends_with(".service") || c.ends_with(".scope")) {
			out.unit = std::string(c);
		}
		parent = c;
	}
	return out;
}

CgroupInfo cgroup_of(const std::vector<CgroupLine> &lines)
{
	std::vector<const CgroupLine *> order;
	for (const CgroupLine &l : lines)
		if (l.is_v2())
			order.push_back(&l);
	for (const CgroupLine &l : lines)
		if (!l.is_v2() && l.controllers == "name=systemd")
			order.push_back(&l);
	for (const CgroupLine &l : lines)
		if (!l.is_v2() && l.controllers != "name=systemd")
			order.push_back(&l);
	if (order.empty())
		return {};
	std::vector<CgroupInfo> infos;
	for (const CgroupLine *l : order) {
		infos.push_back(classify_cgroup(l->path));
		infos.back().hierarchy = l->is_v2() ? "v2" : l->controllers;
	}
	for (const CgroupInfo &c : infos)
		if (!c.container_id.empty())
			return c;
	for (const CgroupInfo &c : infos)
		if (!c.pod_uid.empty() || !c.unit.empty())
			return c;
	return infos.front();
}

Result<CgroupInfo> read_process_cgroup(std::uint32_t pid, const std::string &proc_root)
{
	auto text = read_file(proc_root + "/" + std::to_string(pid) + "/cgroup");
	if (!text)
		return text.error();
	std::istringstream in(*text);
	auto lines = parse_proc_cgroup(in);
	if (!lines)
		return lines.error();
	return cgroup_of(*lines);
}

// Where the runtimes' state is: the host's root is /proc/1/root from a
// container with hostPID. Where pid 1's root cannot be entered (a pid 1
// in another user namespace, or no CAP_SYS_PTRACE), this is the host: "/".
static std::string default_runtime_root(const std::string &proc_root)
{
	const std::string root = proc_root + "/1/root";
	return ::access((root + "/").c_str(), X_OK) == 0 ? root : "/";
}

CgroupCache::CgroupCache(std::string proc_root, std::string runtime_root)
	: proc_root_(std::move(proc_root)),
	  runtime_root_(runtime_root.empty() ? default_runtime_root(proc_root_) : std::move(runtime_root)),
	  unknown_(std::make_shared<const CgroupInfo>())
{
}

const std::shared_ptr<const CgroupInfo> &CgroupCache::of_pid(std::uint32_t pid)
{
	auto [it, fresh] = pids_.try_emplace(pid);
	if (!fresh)
		return it->second;
	auto info = read_process_cgroup(pid, proc_root_);
	if (!info) {
		it->second = unknown_;
		return it->second;
	}
	auto &interned = by_path_[info->hierarchy + ':' + info->path];
	if (!interned) {
		if (!info->container_id.empty()) {
			ContainerNames n = read_container_names(info->runtime, info->container_id, runtime_root_);
			info->pod = std::move(n.pod);
			info->pod_namespace = std::move(n.pod_namespace);
			info->container = std::move(n.container);
		}
		interned = std::make_shared<const CgroupInfo>(std::move(*info));
	}
	it->second = interned;
	return it->second;
}

void CgroupCache::keep_only(const std::unordered_set<const CgroupInfo *> &in_use)
{
	std::erase_if(by_path_, [&](const auto &kv) { return !in_use.count(kv.second.get()); });
	sweep_at_ = 2 * by_path_.size() + 64;
}

void attach_cgroups(std::vector<Listener> &listeners, const std::string &proc_root, const std::string &runtime_root)
{
	CgroupCache cache(proc_root, runtime_root);
	for (Listener &l : listeners)
		for (ProcessRef &p : l.processes)
			if (p.pid > 0)
				p.cgroup = cache.of_pid(static_cast<std::uint32_t>(p.pid));
}

}  // namespace listenq
