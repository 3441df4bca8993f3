// Gate for tests that need root: skip with the reason, except under
// CI=true where the host tier must run (CI is root on the same kernel).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "net_helpers.h"

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

}  // namespace listenq::testing
