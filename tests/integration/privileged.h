// Gate for tests that need root: skip with the reason, except under
// CI=true where the host tier must run (CI is root on the same kernel).
#pragma once

#include <gtest/gtest.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "net_helpers.h"
#include "sources/inet_diag.h"

namespace listenq::testing {

inline bool in_ci()
{
	const char *ci = std::getenv("CI");
	return ci && std::strcmp(ci, "true") == 0;
}

// Use at the top of SetUp(): enters a fresh network namespace, or skips
// (fails under CI) saying why.
#define LQ_REQUIRE_ROOT_NETNS()                                                              \
	do {                                                                                 \
		std::string why_;                                                            \
		if (::geteuid() != 0)                                                        \
			why_ = "needs root (BPF, netns); run: sudo ctest -L privileged";    \
		else if (auto r_ = ::listenq::testing::enter_private_netns(); !r_)          \
			why_ = "cannot create a private netns: " + r_.error().message;      \
		if (!why_.empty()) {                                                         \
			if (::listenq::testing::in_ci())                                     \
				FAIL() << "CI=true and the host tier cannot run: " << why_; \
			GTEST_SKIP() << why_;                                                \
		}                                                                            \
	} while (0)

// tcp_diag answers SOCK_DIAG_BY_FAMILY/TCP in the caller's netns.
inline bool tcp_diag_answers()
{
	auto d = read_inet_diag({});
	return d && d->status == DiagStatus::ok;
}

// The running kernel is major.minor or newer (uname -r).
inline bool kernel_at_least(int major, int minor)
{
	utsname u{};
	int a = 0, b = 0;
	if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &a, &b) != 2)
		return false;
	return a > major || (a == major && b >= minor);
}

// Use after LQ_REQUIRE_ROOT_NETNS() in tests that compare with what
// tcp_diag answers (ss, verify's diag source). The kernel matrix unloads
// tcp_diag on purpose and says so (LISTENQ_TEST_NO_TCP_DIAG=1): a skip;
// anywhere else under CI=true a missing tcp_diag is a failure.
#define LQ_REQUIRE_TCP_DIAG()                                                                      \
	do {                                                                                       \
		if (!::listenq::testing::tcp_diag_answers()) {                                     \
			const char *why_ = "needs tcp_diag (not loaded: inet_diag answers ENOENT)"; \
			const char *off_ = std::getenv("LISTENQ_TEST_NO_TCP_DIAG");                \
			if (::listenq::testing::in_ci() && !(off_ && std::strcmp(off_, "1") == 0)) \
				FAIL() << "CI=true: " << why_;                                     \
			GTEST_SKIP() << why_;                                                      \
		}                                                                                  \
	} while (0)

}  // namespace listenq::testing
