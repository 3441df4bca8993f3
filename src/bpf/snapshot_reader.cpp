#include "bpf/snapshot_reader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/socket.h>
#include <unistd.h>

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

Result<std::vector<std::uint8_t>> read_listener_records(const BpfOptions &opts, const ListenerFilter &filter)
{
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
	if (int err = snapshot_bpf__load(skel.get()))
		return Error::from_errno(-err, "load iter/tcp program dump_listeners");

	LinkPtr link(bpf_program__attach_iter(skel->progs.dump_listeners, nullptr));
	if (!link)
		return Error::from_errno(errno, "attach iter/tcp dump_listeners");
	UniqueFd iter(bpf_iter_create(bpf_link__fd(link.get())));
	if (!iter.valid())
		return Error::from_errno(errno, "create iter/tcp iterator");
	return read_all(iter.get(), "iter/tcp iterator");
}

Result<Snapshot> read_snapshot_iter(const BpfOptions &opts, const ListenerFilter &filter)
{
	auto bytes = read_listener_records(opts, filter);
	if (!bytes)
		return bytes.error();
	auto listeners = decode_listener_records(*bytes);
	if (!listeners)
		return listeners.error();

	Snapshot snap;
	snap.source = "iter/tcp";
	snap.netns = current_netns_inode();
	snap.listeners = std::move(*listeners);
	sort_listeners(snap.listeners);
	return snap;
}

}  // namespace listenq
