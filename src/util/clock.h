// CLOCK_MONOTONIC in nanoseconds: the clock of bpf_ktime_get_ns().
#pragma once

#include <cstdint>
#include <ctime>

namespace listenq {

inline std::uint64_t monotonic_ns()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace listenq
