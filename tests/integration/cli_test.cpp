// Exit codes and hints a user meets when something is missing.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "kernel_kinds.h"
#include "privileged.h"

using namespace listenq::testing;

namespace {

class Cli : public ::testing::Test {
protected:
	void SetUp() override { LQ_REQUIRE_ROOT_NETNS(); }
};

TEST_F(Cli, UnprivilegedUserGetsExit3AndCapabilityHint)
{
	for (const char *cmd : {"snapshot", "watch", "trace", "hist", "verify"}) {
		RunResult r = run_program({"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
					   LISTENQ_BIN, cmd});
		EXPECT_EQ(r.exit_code, 3) << cmd << ": " << r.out << r.err;
		EXPECT_NE(r.err.find("CAP_BPF"), std::string::npos) << cmd << ": " << r.err;
		EXPECT_NE(r.err.find("CAP_PERFMON"), std::string::npos) << cmd << ": " << r.err;
	}
}

TEST_F(Cli, MissingBtfFileGetsExit3AndHint)
{
	for (const char *cmd : {"snapshot", "watch"}) {
		RunResult r = run_program({LISTENQ_BIN, cmd, "--btf", "/nonexistent/vmlinux.btf"});
		EXPECT_EQ(r.exit_code, 3) << cmd;
		EXPECT_NE(r.err.find("--btf PATH"), std::string::npos) << cmd << ": " << r.err;
	}
}

bool sysfs_btf() { return ::access("/sys/kernel/btf/vmlinux", R_OK) == 0; }

// The running kernel's full BTF: sysfs, or on a kernel without it (the 4.19
// and 5.4 guests) the pahole file LISTENQ_BTF names.
std::string kernel_btf_file()
{
	if (sysfs_btf())
		return "/sys/kernel/btf/vmlinux";
	const char *f = std::getenv("LISTENQ_BTF");
	return f ? f : "";
}

// A shell command line that runs listenq as on a kernel without BTF: on a
// kernel that has it, /sys/kernel/btf hidden by an empty tmpfs in a private
// mount namespace; on one without, as it is. LISTENQ_BTF unset either way.
std::vector<std::string> without_kernel_btf(const std::string &args)
{
	const std::string run = std::string("unset LISTENQ_BTF; exec ") + LISTENQ_BIN + " " + args;
	if (!sysfs_btf())
		return {"/bin/sh", "-c", run};
	return {which("unshare"), "-m", "sh", "-c", "mount -t tmpfs none /sys/kernel/btf && " + run};
}

TEST_F(Cli, KernelWithoutBtfGetsExit3AndHint)
{
	for (const char *cmd : {"snapshot", "watch"}) {
		RunResult r = run_program(without_kernel_btf(cmd));
		EXPECT_EQ(r.exit_code, 3) << cmd << ": " << r.err;
		EXPECT_NE(r.err.find("/sys/kernel/btf/vmlinux missing"), std::string::npos) << cmd << ": " << r.err;
		EXPECT_NE(r.err.find("hint: pass --btf PATH"), std::string::npos) << cmd << ": " << r.err;
	}
}

TEST_F(Cli, CorruptBtfFileGetsExit3)
{
	const std::string path = ::testing::TempDir() + "/corrupt.btf";
	std::ofstream(path) << "this is not BTF";
	for (const char *cmd : {"snapshot", "trace"}) {
		RunResult r = run_program({LISTENQ_BIN, cmd, "--btf", path});
		EXPECT_EQ(r.exit_code, 3) << cmd;
		EXPECT_NE(r.err.find("not valid BTF"), std::string::npos) << cmd << ": " << r.err;
	}
}

TEST_F(Cli, ValidCustomBtfIsUsedForCoRe)
{
	const std::string btf = kernel_btf_file();
	ASSERT_FALSE(btf.empty()) << "no kernel BTF in sysfs and no LISTENQ_BTF";
	RunResult r = run_program({LISTENQ_BIN, "snapshot", "--btf", btf, "--json"});
	EXPECT_EQ(r.exit_code, 0) << r.err;
	EXPECT_NE(r.out.find("\"source\": \"" + expected_snapshot_source() + "\""), std::string::npos) << r.out;
}

// btf-min's file, for a kernel without BTF in sysfs (hidden here): a few
// KiB that libbpf takes for CO-RE. With kprobes (the guests) the snapshot
// is the kprobe walk's, CO-RE from that file; without (this host), it comes
// from inet_diag and says why.
TEST_F(Cli, MinimizedBtfServesAKernelWithoutSysfsBtf)
{
	const std::string path = ::testing::TempDir() + "/listenq-min.btf";
	// From sysfs, or (a kernel without it) from pahole's full BTF.
	std::vector<std::string> argv = {LISTENQ_BIN, "btf-min", path};
	if (!sysfs_btf())
		argv.insert(argv.end(), {"--vmlinux", kernel_btf_file()});
	RunResult w = run_program(argv);
	ASSERT_EQ(w.exit_code, 0) << w.out << w.err;
	EXPECT_NE(w.out.find("wrote " + path), std::string::npos) << w.out;
	std::ifstream f(path, std::ios::binary | std::ios::ate);
	const auto size = static_cast<long>(f.tellg());
	EXPECT_GT(size, 1000) << "a BTF with listenq's types";
	EXPECT_LT(size, 64 * 1024) << "minimized: the full vmlinux BTF is megabytes";
	for (const char *cmd : {"snapshot", "probe"}) {
		RunResult r = run_program(without_kernel_btf("--btf " + path + " " + cmd));
		EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.out << r.err;
		if (std::string(cmd) == "snapshot") {
			const bool kprobes = ::access("/sys/bus/event_source/devices/kprobe/type", F_OK) == 0;
			EXPECT_NE(r.out.find(kprobes ? "source kprobe/tcp_seq_show" : "source inet_diag"), std::string::npos)
				<< r.out;
			EXPECT_NE(r.out.find("no kernel BTF"), std::string::npos) << r.out;
		} else {
			EXPECT_NE(r.out.find(path + " (--btf)"), std::string::npos) << r.out;
		}
	}
	std::vector<std::string> bad_argv = {LISTENQ_BIN, "btf-min", "--bpftool", "/nonexistent/bpftool", path};
	if (!sysfs_btf())
		bad_argv.insert(bad_argv.end(), {"--vmlinux", kernel_btf_file()});
	RunResult bad = run_program(bad_argv);
	EXPECT_EQ(bad.exit_code, 1);
	EXPECT_NE(bad.err.find("needs bpftool"), std::string::npos) << bad.err;
}

TEST_F(Cli, BadArgumentsExit2WithUsage)
{
	for (auto args : std::vector<std::vector<std::string>>{{"snapshot", "--port", "0"},
							       {"snapshot", "--bogus"},
							       {"snapshot", "-4", "-6"},
							       {"--attach=sideways", "probe"},
							       {"watch", "--ringbuf-kb", "100"},
							       {"watch", "--max-listeners", "5"},
							       {"watch", "0"},
							       {"watch", "1", "-3"},
							       {"trace", "--duration", "-1"},
							       {"trace", "--pid", "x"},
							       {"hist", "--sample-ms", "1"},
							       {"nosuchcommand"},
							       {}}) {
		args.insert(args.begin(), LISTENQ_BIN);
		RunResult r = run_program(args);
		EXPECT_EQ(r.exit_code, 2) << r.err;
		EXPECT_NE(r.err.find("Usage:"), std::string::npos) << r.err;
	}
}

TEST_F(Cli, ProbeReportsThisNetnsSomaxconn)
{
	std::ofstream("/proc/sys/net/core/somaxconn") << "555";
	RunResult r = run_program({LISTENQ_BIN, "probe", "--json"});
	ASSERT_EQ(r.exit_code, 0) << r.err;
	EXPECT_NE(r.out.find("\"somaxconn\": 555"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("\"iter/tcp\""), std::string::npos);
}

}  // namespace
