// The tracer's listeners in user space: one ListenerStat per listener,
// updated in place by each read of the BPF map, so that a read copies
// nothing and allocates only for listeners it has not seen before.
//
// A deque, not a vector: it grows without a reallocation that would hold
// the old and the new array at once (at 50k listeners, tens of MiB), and
// its elements stay where they are until entries are dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "model/trace_model.h"

namespace listenq {

class ListenerTable {
public:
	// One read: begin(), then at() for each listener of the map, then end().
	void begin();
	// The entry of key, marked seen; a new one (zeroed but for its key)
	// when *added is set.
	ListenerStat &at(std::uint64_t key, bool *added = nullptr);
	// Whether key was given by at() since begin().
	bool seen(std::uint64_t key) const;
	// Drops the entries not seen since begin(). Their owners' marks go too.
	void end();

	const std::deque<ListenerStat> &all() const { return stats_; }
	std::deque<ListenerStat> &all() { return stats_; }
	std::size_t size() const { return stats_.size(); }

	// Whether the owner of entry i was looked up in /proc (seeded listeners:
	// once, even when no process holds it).
	bool owner_looked_up(std::size_t i) const { return marks_[i] & kOwnerLookedUp; }
	void set_owner_looked_up(std::size_t i) { marks_[i] |= kOwnerLookedUp; }

private:
	static constexpr std::uint8_t kSeen = 1, kOwnerLookedUp = 2;
	// Open addressing over stats_: position + 1, 0 for an empty slot.
	std::size_t slot_of(std::uint64_t key) const;
	void rebuild_index(std::size_t min_entries);

	std::deque<ListenerStat> stats_;
	std::deque<std::uint8_t> marks_;  // per entry: kSeen | kOwnerLookedUp
	std::vector<std::uint32_t> index_;
};

}  // namespace listenq
