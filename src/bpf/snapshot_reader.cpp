#include "bpf/snapshot_reader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>

#include <cstdio>
#include <optional>
#include <string_view>
#include <set>
#include <vector>

#include "bpf/iter_image.h"
#include "bpf/libbpf_raii.h"
#include "bpf/record_decode.h"
#include "listenq/abi.h"
#include "sources/kernel_info.h"
#include "snapshot.skel.h"
#include "util/files.h"
#include "util/step_timer.h"
#include "util/unique_fd.h"
#include "walk.skel.h"

namespace listenq {

namespace {

constexpr const char *kKernelBtfPath = "/sys/kernel/btf/vmlinux";
constexpr const char *kKprobePmuPath = "/sys/bus/event_source/devices/kprobe/type";

using SnapshotSkel = SkelPtr<snapshot_bpf, snapshot_bpf__destroy>;
using WalkSkel = SkelPtr<walk_bpf, walk_bpf__destroy>;

// until_eagain: EAGAIN ends the read (an iterator whose program returned
// 1: dump_listeners stops where the established hash starts).
Result<std::vector<std::uint8_t>> read_all(int fd, const char *what, bool until_eagain = false)
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
			if (errno == EAGAIN && until_eagain)
				break;
			return Error::from_errno(errno, std::string("read ") + what);
		}
		if (n == 0)
			break;
		used += static_cast<std::size_t>(n);
	}
	buf.resize(used);
	return buf;
}

Result<void> refused_by_user(const BpfOptions &opts, const ProgramSpec &spec)
{
	for (const Refusal &r : opts.refuse)
		if (r.matches(spec))
			return Error{EPERM, spec.section() + " " + std::string(spec.name) + ": refused by LISTENQ_REFUSE"};
	return {};
}

void configure(snapshot_bpf::snapshot_bpf__rodata &r, const ListenerFilter &filter, bool no_cookie_helper)
{
	if (filter.ipv4 != filter.ipv6)
		r.filter_family = filter.ipv4 ? AF_INET : AF_INET6;
	if (filter.port)
		r.filter_port = *filter.port;
	r.filter_netns = current_netns_inode();
	r.no_cookie_helper = no_cookie_helper;
}

// One pass of an attached iterator.
Result<std::vector<std::uint8_t>> read_iterator(int link_fd, const std::string &what, bool until_eagain)
{
	UniqueFd iter(bpf_iter_create(link_fd));
	if (!iter.valid())
		return Error::from_errno(errno, "create " + what + " iterator");
	timing::mark("attach");
	auto bytes = read_all(iter.get(), what.c_str(), until_eagain);
	timing::mark("walk");
	return bytes;
}

// The program as loaded, for iter_image.h: nullopt where it references a
// map other than .rodata, or the kernel does not say its attach BTF id.
std::optional<IterImage> capture_image(const snapshot_bpf &skel, const bpf_program *prog)
{
	IterImage img;
	const bpf_insn *insns = bpf_program__insns(prog);
	img.insns.assign(insns, insns + bpf_program__insn_cnt(prog));
	const int rodata_fd = bpf_map__fd(skel.maps.rodata);
	for (std::size_t i = 0; i + 1 < img.insns.size(); i++) {
		const bpf_insn &in = img.insns[i];
		if (in.code != (BPF_LD | BPF_IMM | BPF_DW))
			continue;
		if (in.src_reg == BPF_PSEUDO_MAP_FD || in.src_reg == BPF_PSEUDO_MAP_VALUE) {
			if (in.imm != rodata_fd)
				return std::nullopt;
			img.map_refs.push_back(static_cast<std::uint32_t>(i));
		} else if (in.src_reg != 0) {
			return std::nullopt;  // BTF ids, functions: not for a plain reload
		}
		i++;  // the second half
	}
	bpf_prog_info info{};
	__u32 len = sizeof(info);
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) || !info.attach_btf_id)
		return std::nullopt;
	img.attach_btf_id = info.attach_btf_id;
	img.rodata_size = static_cast<std::uint32_t>(bpf_map__value_size(skel.maps.rodata));
	img.no_cookie_helper = skel.rodata->no_cookie_helper;
	if (img.rodata_size > sizeof(snapshot_bpf::snapshot_bpf__rodata))
		return std::nullopt;
	return img;
}

// iter/tcp from the image of an earlier run (iter_image.h), or an error
// (then the caller loads it the long way).
Result<std::vector<std::uint8_t>> run_cached(const std::string &path, const ListenerFilter &filter,
					     const std::string &what)
{
	auto img = read_iter_image(path);
	if (!img)
		return Error{ENOENT, "no image at " + path};
	timing::mark("read image");
	snapshot_bpf::snapshot_bpf__rodata rodata{};
	configure(rodata, filter, img->no_cookie_helper);
	auto loaded = load_iter_image(*img, &rodata);
	if (!loaded)
		return loaded.error();
	timing::mark("load: image");
	return read_iterator(loaded->link.get(), what, true);
}

std::string_view snapshot_object()
{
	std::size_t n = 0;
	const void *p = snapshot_bpf__elf_bytes(&n);
	return {static_cast<const char *>(p), n};
}

// One pass of one program of snapshot.bpf.c (only that one loaded).
Result<std::vector<std::uint8_t>> run_program(const BpfOptions &opts, const ListenerFilter &filter,
					      const ProgramSpec &spec)
{
	if (auto r = refused_by_user(opts, spec); !r)
		return r.error();
	// libbpf would say "loading vmlinux BTF: -3" and fail with ESRCH.
	if (!path_exists(kKernelBtfPath))
		return Error{ENOENT, spec.section() + " " + std::string(spec.name) + ": no kernel BTF (" + kKernelBtfPath +
					     "; --btf serves CO-RE relocations only, an iterator needs the kernel's own)"};
	const std::string what = spec.section() + " " + std::string(spec.name);
	// --btf asks for that BTF's relocations: no image then.
	const std::string image =
		spec.kind == ProgKind::iter_tcp && opts.btf_path.empty() ? iter_image_path(snapshot_object()) : "";
	if (!image.empty())
		if (auto bytes = run_cached(image, filter, what))
			return bytes;
	auto open_and_load = [&](bool no_cookie_helper) -> Result<SnapshotSkel> {
		LIBBPF_OPTS(bpf_object_open_opts, oo);
		if (!opts.btf_path.empty())
			oo.btf_custom_path = opts.btf_path.c_str();
		SnapshotSkel skel(snapshot_bpf__open_opts(&oo));
		if (!skel)
			return Error::from_errno(errno, "open BPF object snapshot_bpf");
		timing::mark("open");
		configure(*skel->rodata, filter, no_cookie_helper);
		bpf_program *p;
		bpf_object__for_each_program(p, skel->obj)
			bpf_program__set_autoload(p, spec.name == bpf_program__name(p));
		if (int err = snapshot_bpf__load(skel.get()))
			return Error::from_errno(-err, "load " + what);
		timing::mark("load: CO-RE and verifier");
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
	bpf_program *prog = bpf_object__find_program_by_name(skel->obj, std::string(spec.name).c_str());
	if (!image.empty())
		if (auto img = capture_image(*skel, prog)) {
			(void)write_iter_image(image, *img);  // best effort: iter_image.h
			timing::mark("write image");
		}
	LinkPtr link(bpf_program__attach_iter(prog, nullptr));
	if (!link)
		return Error::from_errno(errno, "attach " + what);
	return read_iterator(bpf_link__fd(link.get()), what, spec.kind == ProgKind::iter_tcp);
}

}  // namespace

namespace {

// LISTEN rows ("st" 0A) of a /proc/net/tcp{,6} text.
std::size_t listen_rows(const std::string &text)
{
	std::size_t n = 0, pos = text.find('\n');
	while (pos != std::string::npos && pos + 1 < text.size()) {
		const std::size_t end = text.find('\n', pos + 1);
		const std::string line = text.substr(pos + 1, end == std::string::npos ? std::string::npos : end - pos - 1);
		// sl local rem st ...: the fourth field
		char st[8] = {};
		if (std::sscanf(line.c_str(), "%*s %*s %*s %7s", st) == 1 && std::string(st) == "0A")
			n++;
		pos = end;
	}
	return n;
}

// The kernel's own walk of this netns's TCP tables while this process
// reads /proc/net/tcp{,6}, seen by kprobes on tcp{4,6}_seq_show
// (bpf/walk.bpf.c): every listener, for kernels without iter/tcp.
// tcp6 may be missing (no IPv6): then /proc/net/tcp6 is too.
// Long: load, attach, read /proc/net/tcp{,6} and detach must stay in one scope (the links end with it).
Result<std::vector<std::uint8_t>> run_walk(const BpfOptions &opts, const ProgramSpec &v4, const ProgramSpec &v6,
					   std::vector<std::string> &notes)
{
	for (const ProgramSpec *spec : {&v4, &v6})
		if (auto r = refused_by_user(opts, *spec); !r)
			return r.error();
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	if (!opts.btf_path.empty())
		oo.btf_custom_path = opts.btf_path.c_str();
	WalkSkel skel(walk_bpf__open_opts(&oo));
	if (!skel)
		return Error::from_errno(errno, "open BPF object walk_bpf");
	const std::string what = v4.section() + " " + std::string(v4.name);
	if (int err = walk_bpf__load(skel.get()))
		return Error::from_errno(-err, "load " + what);
	const lq_walk_config cfg{static_cast<std::uint32_t>(::getpid()), 0, 0};
	const std::uint32_t zero = 0;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.walk_config), &zero, &cfg, BPF_ANY))
		return Error::from_errno(errno, "configure " + what);

	const bool have_v6 = path_exists("/proc/self/net/tcp6");
	LinkPtr l4(bpf_program__attach(skel->progs.walk_tcp4));
	if (!l4) {
		const int err = errno;
		if (err == ENOENT && !path_exists(kKprobePmuPath))
			return Error{err, what + ": no kprobe PMU (" + kKprobePmuPath + " missing)"};
		return Error::from_errno(err, "attach " + what);
	}
	LinkPtr l6(have_v6 ? bpf_program__attach(skel->progs.walk_tcp6) : nullptr);
	if (have_v6 && !l6)
		return Error::from_errno(errno, "attach " + v6.section() + " " + std::string(v6.name));

	std::size_t rows = 0;
	for (const char *path : {"/proc/self/net/tcp", "/proc/self/net/tcp6"}) {
		if (path == std::string("/proc/self/net/tcp6") && !have_v6)
			continue;
		UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
		if (!fd.valid())
			return Error::from_errno(errno, std::string("open ") + path);
		auto text = read_all(fd.get(), path);
		if (!text)
			return text.error();
		rows += listen_rows(std::string(text->begin(), text->end()));
	}
	l6.reset();
	l4.reset();

	std::vector<std::uint8_t> out;
	const int map_fd = bpf_map__fd(skel->maps.walked);
	std::uint64_t key = 0, next = 0;
	const std::uint64_t *prev = nullptr;
	while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
		lq_listener_rec rec{};
		if (bpf_map_lookup_elem(map_fd, &next, &rec) == 0) {
			const auto *b = reinterpret_cast<const std::uint8_t *>(&rec);
			out.insert(out.end(), b, b + sizeof(rec));
		}
		key = next;
		prev = &key;
	}
	lq_walk_config after{};
	bpf_map_lookup_elem(bpf_map__fd(skel->maps.walk_config), &zero, &after);
	const std::size_t got = out.size() / sizeof(lq_listener_rec);
	if (after.dropped)
		notes.push_back(std::to_string(after.dropped) + " listeners did not fit the walk's map: not shown");
	else if (got != rows)
		notes.push_back("the walk saw " + std::to_string(got) + " listeners where /proc/net/tcp{,6} showed " +
				std::to_string(rows) + " (listeners came or went during the read)");
	return out;
}

}  // namespace

Result<ListenerRecords> read_listener_records(const BpfOptions &opts, const ListenerFilter &filter)
{
	ListenerRecords out;
	std::vector<std::string> failed;
	int err = ENOENT;
	for (const SnapshotWay &way : snapshot_ways()) {
		std::vector<std::string> notes;
		// One program, or the walk's two kprobes (tcp4, tcp6) together.
		Result<std::vector<std::uint8_t>> bytes =
			way.programs.size() == 2 ? run_walk(opts, way.programs[0], way.programs[1], notes)
						 : run_program(opts, filter, way.programs.at(0));
		if (!bytes) {
			// The kernel refused it (or has no such kind): the next way.
			failed.push_back(bytes.error().message);
			err = bytes.error().err;
			continue;
		}
		out.bytes = std::move(*bytes);
		out.source = std::string(way.source);
		const std::string loses = way.loses.empty() ? "" : "; " + std::string(way.loses);
		for (const std::string &f : failed)
			out.notes.push_back(f + ": read with " + out.source + " instead" + loses);
		for (std::string &n : notes)
			out.notes.push_back(std::move(n));
		return out;
	}
	std::string all;
	for (const std::string &f : failed)
		all += (all.empty() ? "" : "; ") + f;
	return Error{err, all.empty() ? "no snapshot program" : all};
}

Result<Snapshot> read_snapshot_iter(const BpfOptions &opts, const ListenerFilter &filter)
{
	auto recs = read_listener_records(opts, filter);
	if (!recs)
		return recs.error();
	auto listeners = decode_listener_records(recs->bytes);
	if (!listeners)
		return listeners.error();
	timing::mark("decode");

	Snapshot snap;
	snap.source = recs->source;
	snap.notes = std::move(recs->notes);
	snap.netns = current_netns_inode();
	// iter/task_file: one record per descriptor; one listener per cookie,
	// or per inode where the cookie is unknown (0: lq_socket_cookie()). The
	// walk's records are one per socket already, and it filters here (its
	// kprobes have no settings for it).
	const bool per_descriptor = recs->source == prog_kind_name(ProgKind::iter_task_file);
	std::set<std::pair<bool, std::uint64_t>> seen;
	for (Listener &l : *listeners)
		if (filter.matches(l) &&
		    (!per_descriptor || seen.insert(l.cookie ? std::pair(true, l.cookie) : std::pair(false, l.inode)).second))
			snap.listeners.push_back(std::move(l));
	sort_listeners(snap.listeners);
	timing::mark("sort");
	return snap;
}

}  // namespace listenq
