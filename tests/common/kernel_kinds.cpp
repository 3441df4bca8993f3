#include "kernel_kinds.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "kinds.skel.h"

namespace listenq::testing {

namespace {

std::string err_text(const char *step, int err)
{
	return std::string(step) + ": " + std::strerror(err) + " (" + std::to_string(err) + ")";
}

int quiet(enum libbpf_print_level, const char *, va_list) { return 0; }

struct Closer {
	void operator()(bpf_object *o) const { bpf_object__close(o); }
};

// Loads the object with only `prog` autoloaded (and its map only when it
// uses it); attaches it when attach. An iterator is created and read once.
KindResult load_one(const char *prog, bool uses_marks, bool attach, bool tracked_map = false)
{
	size_t size = 0;
	const void *bytes = kinds_bpf__elf_bytes(&size);
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	const char *btf = std::getenv("LISTENQ_BTF");
	if (btf && *btf && access("/sys/kernel/btf/vmlinux", R_OK) != 0)
		oo.btf_custom_path = btf;
	std::unique_ptr<bpf_object, Closer> obj(bpf_object__open_mem(bytes, size, &oo));
	if (!obj)
		return {false, err_text("open", errno)};
	bpf_program *p;
	bpf_program *want = nullptr;
	bpf_object__for_each_program(p, obj.get())
	{
		const bool me = std::strcmp(bpf_program__name(p), prog) == 0;
		bpf_program__set_autoload(p, me);
		if (me)
			want = p;
	}
	if (!want)
		return {false, std::string("no program ") + prog};
	bpf_map *marks = bpf_object__find_map_by_name(obj.get(), "k_marks");
	if (!uses_marks)
		bpf_map__set_autocreate(marks, false);
	if (int e = bpf_object__load(obj.get()))
		return {false, err_text("load", -e)};
	if (bpf_program__type(want) == BPF_PROG_TYPE_RAW_TRACEPOINT && !attach) {  // run, not attached
		__u64 args[1] = {0};
		LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = args, .ctx_size_in = sizeof(args));
		if (bpf_prog_test_run_opts(bpf_program__fd(want), &run) != 0)
			return {false, err_text("test run", errno)};
		return {true, {}};
	}
	if (!attach)
		return {true, {}};
	bpf_link *link;
	if (tracked_map) {
		union bpf_iter_link_info info = {};
		info.map.map_fd = static_cast<__u32>(bpf_map__fd(marks));
		LIBBPF_OPTS(bpf_iter_attach_opts, io, .link_info = &info, .link_info_len = sizeof(info));
		link = bpf_program__attach_iter(want, &io);
	} else {
		link = bpf_program__attach(want);
	}
	if (!link)
		return {false, err_text("attach", errno)};
	KindResult r{true, {}};
	if (bpf_program__type(want) == BPF_PROG_TYPE_TRACING &&
	    bpf_program__expected_attach_type(want) == BPF_TRACE_ITER) {
		int fd = bpf_iter_create(bpf_link__fd(link));
		if (fd < 0) {
			r = {false, err_text("iterator create", errno)};
		} else {
			char buf[256];
			while (read(fd, buf, sizeof(buf)) > 0) {
			}
			close(fd);
		}
	}
	bpf_link__destroy(link);
	return r;
}

KindResult map_kind(bpf_map_type t)
{
	int r = libbpf_probe_bpf_map_type(t, nullptr);
	if (r == 1)
		return {true, {}};
	return {false, r == 0 ? std::string("map type not supported") : err_text("create", -r)};
}

}  // namespace

const std::map<std::string, KindResult> &kernel_kinds()
{
	static const std::map<std::string, KindResult> kinds = [] {
		libbpf_print_fn_t old = libbpf_set_print(quiet);
		std::map<std::string, KindResult> k;
		k["sk_storage"] = map_kind(BPF_MAP_TYPE_SK_STORAGE);
		k["ringbuf"] = map_kind(BPF_MAP_TYPE_RINGBUF);
		k["iter/tcp"] = load_one("k_iter_tcp", true, true);
		k["iter/tcp dump"] = load_one("k_iter_tcp_dump", false, true);
		k["iter/bpf_sk_storage_map"] = load_one("k_iter_tracked", true, true, true);
		k["iter/task_file"] = load_one("k_iter_files", true, true);
		k["iter/task_file raw"] = load_one("k_iter_files_raw", false, true);
		k["kprobe walk"] = load_one("k_walk", false, true);
		k["kprobe"] = load_one("k_kprobe", false, true);
		k["kretprobe"] = load_one("k_kretprobe", false, true);
		k["fexit"] = load_one("k_fexit", true, true);
		k["fentry"] = load_one("k_fentry", false, true);
		k["tp_btf"] = load_one("k_tp_btf", true, true);
		k["raw_tp"] = load_one("k_raw_tp", false, true);
		k["raw_tp test run for_each"] = load_one("k_busy", false, false);
		k["tracepoint"] = load_one("k_tracepoint", false, true);
		libbpf_set_print(old);
		return k;
	}();
	return kinds;
}

bool kernel_loads(const std::string &kind)
{
	auto it = kernel_kinds().find(kind);
	return it != kernel_kinds().end() && it->second.ok;
}

std::string expected_snapshot_source()
{
	if (kernel_loads("iter/tcp dump"))
		return "iter/tcp";
	return kernel_loads("kprobe walk") ? "kprobe/tcp_seq_show" : "inet_diag";
}

std::string kernel_kinds_text()
{
	std::string out;
	for (const auto &[kind, r] : kernel_kinds())
		out += kind + ": " + (r.ok ? "yes" : "no, " + r.why) + "\n";
	return out;
}

}  // namespace listenq::testing
