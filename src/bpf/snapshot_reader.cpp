#include "bpf/snapshot_reader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <vector>

#include "bpf/libbpf_raii.h"
#include "bpf/record_decode.h"
#include "sources/kernel_info.h"
#include "snapshot.skel.h"
#include "util/unique_fd.h"

namespace listenq {

namespace {

using SnapshotSkel = SkelPtr<snapshot_bpf, snapshot_bpf__destroy>;

Result<std::vector<std::uint8_t>> read_all(int fd, const char *what)
{
	std::vector<std::uint8_t> buf;
	std::size_t used = 0;
	buf.resize(64 * 1024);
	for (;;) {
		if (buf.size() - used < 16 * 1024)
			buf.resize(buf.size() * 2);
		ssize_t n = ::read(fd, buf.data() + used, buf.size() - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return Error::from_errno(errno, std::string("read ") + what);
		}
		if (n == 0)
			break;
		used += static_cast<std::size_t>(n);
	}
	buf.resize(used);
	return buf;
}

}  // namespace

namespace {

// One pass of one program of snapshot.bpf.c (only that one loaded).
Result<std::vector<std::uint8_t>> run_program(const BpfOptions &opts, const ListenerFilter &filter,
					      const ProgramSpec &spec)
{
	for (const Refusal &r : opts.refuse)
		if (r.matches(spec))
			return Error{EPERM, spec.section() + " " + std::string(spec.name) + ": refused by LISTENQ_REFUSE"};
	auto open_and_load = [&](bool no_cookie_helper) -> Result<SnapshotSkel> {
		LIBBPF_OPTS(bpf_object_open_opts, oo);
		if (!opts.btf_path.empty())
			oo.btf_custom_path = opts.btf_path.c_str();
		SnapshotSkel skel(snapshot_bpf__open_opts(&oo));
		if (!skel)
			return Error::from_errno(errno, "open BPF object snapshot_bpf");
		if (filter.ipv4 != filter.ipv6)
			skel->rodata->filter_family = filter.ipv4 ? AF_INET : AF_INET6;
		if (filter.port)
			skel->rodata->filter_port = *filter.port;
		skel->rodata->filter_netns = current_netns_inode();
		skel->rodata->no_cookie_helper = no_cookie_helper;
		bpf_program *p;
		bpf_object__for_each_program(p, skel->obj)
			bpf_program__set_autoload(p, spec.name == bpf_program__name(p));
		if (int err = snapshot_bpf__load(skel.get()))
			return Error::from_errno(-err, "load " + spec.section() + " " + std::string(spec.name));
		return skel;
	};
	// Before 5.12 iter programs may not call bpf_get_socket_cookie() (EINVAL,
	// "unknown func"): the same program without the call, if that loads.
	auto loaded = open_and_load(false);
	if (!loaded && loaded.error().err == EINVAL)
		if (auto again = open_and_load(true))
			loaded = std::move(again);
	if (!loaded)
		return loaded.error();
	SnapshotSkel skel = std::move(*loaded);
	const std::string what = spec.section() + " " + std::string(spec.name);
	LinkPtr link(bpf_program__attach_iter(bpf_object__find_program_by_name(skel->obj, std::string(spec.name).c_str()),
					      nullptr));
	if (!link)
		return Error::from_errno(errno, "attach " + what);
	UniqueFd iter(bpf_iter_create(bpf_link__fd(link.get())));
	if (!iter.valid())
		return Error::from_errno(errno, "create " + what + " iterator");
	return read_all(iter.get(), what.c_str());
}

}  // namespace

Result<ListenerRecords> read_listener_records(const BpfOptions &opts, const ListenerFilter &filter)
{
	ListenerRecords out;
	std::vector<std::string> failed;
	for (const ProgramSpec &spec : snapshot_programs()) {
		auto bytes = run_program(opts, filter, spec);
		if (bytes) {
			out.bytes = std::move(*bytes);
			out.source = std::string(prog_kind_name(spec.kind));
			for (const std::string &f : failed)
				out.notes.push_back(f + ": read with " + out.source +
						    " instead; listeners no visible process holds (in-kernel, other pid namespaces) are not shown");
			return out;
		}
		// The kernel refused it (or has no such kind): the next one.
		failed.push_back(bytes.error().message);
		if (&spec == &snapshot_programs().back()) {
			std::string all;
			for (const std::string &f : failed)
				all += (all.empty() ? "" : "; ") + f;
			return Error{bytes.error().err, all};
		}
	}
	return Error{ENOENT, "no snapshot program"};
}

Result<Snapshot> read_snapshot_iter(const BpfOptions &opts, const ListenerFilter &filter)
{
	auto recs = read_listener_records(opts, filter);
	if (!recs)
		return recs.error();
	auto listeners = decode_listener_records(recs->bytes);
	if (!listeners)
		return listeners.error();

	Snapshot snap;
	snap.source = recs->source;
	snap.notes = std::move(recs->notes);
	snap.netns = current_netns_inode();
	// iter/task_file: one record per descriptor; one listener per cookie,
	// or per inode where the cookie is unknown (0: lq_socket_cookie()).
	std::set<std::pair<bool, std::uint64_t>> seen;
	for (Listener &l : *listeners)
		if (seen.insert(l.cookie ? std::pair(true, l.cookie) : std::pair(false, l.inode)).second)
			snap.listeners.push_back(std::move(l));
	sort_listeners(snap.listeners);
	return snap;
}

}  // namespace listenq
