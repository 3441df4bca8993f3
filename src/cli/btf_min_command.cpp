// listenq btf-min: a BTF file holding only the types listenq's own BPF
// objects relocate against (bpftool gen min_core_btf), for kernels
// without /sys/kernel/btf/vmlinux. Made once per kernel build, on any
// machine with bpftool and that kernel's full BTF (BTFHub, or pahole -J on
// its debug vmlinux), and shipped next to the binary: listenq --btf FILE.
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "listenq/abi.h"
#include "snapshot.skel.h"
#include "trace.skel.h"
#include "util/files.h"
#include "walk.skel.h"

extern char **environ;

namespace listenq {

namespace {

struct EmbeddedObject {
	const char *name;
	const void *(*bytes)(size_t *);
};

// Every object listenq loads, as the binary carries it.
const EmbeddedObject kObjects[] = {
	{"trace.bpf.o", trace_bpf__elf_bytes},
	{"snapshot.bpf.o", snapshot_bpf__elf_bytes},
	{"walk.bpf.o", walk_bpf__elf_bytes},
};

std::string find_bpftool(const std::string &given)
{
	if (!given.empty())
		return given;
	for (const char *p : {"/usr/sbin/bpftool", "/sbin/bpftool", "/usr/bin/bpftool", "/usr/local/sbin/bpftool"})
		if (::access(p, X_OK) == 0)
			return p;
	return "bpftool";  // PATH
}

}  // namespace

int run_btf_min(const Options &o, std::ostream &out, std::ostream &err)
{
	const BtfMinOptions &b = o.btf_min;
	if (!path_exists(b.vmlinux))
		return fail(err, "btf-min",
			    Error{ENOENT, "no BTF at " + b.vmlinux +
						  " (give the target kernel's full BTF with --vmlinux: a BTFHub file, or pahole -J "
						  "on its debug vmlinux)"});
	char tmpl[] = "/tmp/listenq-btf-min.XXXXXX";
	if (!::mkdtemp(tmpl))
		return fail(err, "btf-min", Error::from_errno(errno, "create a temporary directory"));
	const std::string dir = tmpl;
	std::vector<std::string> objs;
	for (const EmbeddedObject &e : kObjects) {
		size_t n = 0;
		const void *data = e.bytes(&n);
		objs.push_back(dir + "/" + e.name);
		if (auto r = write_file(objs.back(), std::string(static_cast<const char *>(data), n)); !r)
			return fail(err, "btf-min", r.error());
	}
	const std::string bpftool = find_bpftool(b.bpftool);
	std::vector<std::string> argv{bpftool, "gen", "min_core_btf", b.vmlinux, b.output};
	argv.insert(argv.end(), objs.begin(), objs.end());
	std::vector<char *> cargv;
	for (std::string &a : argv)
		cargv.push_back(a.data());
	cargv.push_back(nullptr);
	pid_t pid;
	int rc = ::posix_spawnp(&pid, bpftool.c_str(), nullptr, nullptr, cargv.data(), environ);
	int status = 0;
	if (rc == 0)
		::waitpid(pid, &status, 0);
	for (const std::string &f : objs)
		::unlink(f.c_str());
	::rmdir(dir.c_str());
	if (rc != 0)
		return fail(err, "btf-min",
			    Error{rc, "run " + bpftool + ": " + errno_text(rc) +
					      " (btf-min needs bpftool 7+, e.g. Debian's bpftool package, or --bpftool PATH)"});
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return fail(err, "btf-min", Error{EIO, bpftool + " gen min_core_btf failed (its message is above)"});
	struct stat st {};
	::stat(b.output.c_str(), &st);
	out << "wrote " << b.output << " (" << st.st_size << " bytes): the types of " << b.vmlinux
	    << " that listenq's BPF objects use\n"
	    << "use it on kernels of that exact build: listenq --btf " << b.output << " snapshot\n";
	return kExitOk;
}

}  // namespace listenq
