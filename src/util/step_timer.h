// LISTENQ_TIMING=1: the wall time of each step of a command, as one line
// on stderr at the end (bench/listenq_bench.cpp reads it). A debugging
// aid: off, mark() is one branch.
#pragma once

namespace listenq::timing {

// Reads LISTENQ_TIMING and starts the clock (run_listenq's first line).
void start();
bool enabled();
// The time since the previous mark (or start), under this name.
void mark(const char *step);
// "listenq timing: cli 0.10 ms, ..., total 12.34 ms" on stderr, once.
void report();

}  // namespace listenq::timing
