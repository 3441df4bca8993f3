#include "tracing/listener_table.h"

namespace listenq {

namespace {

std::size_t hash_of(std::uint64_t key) { return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ULL) >> 17); }

}  // namespace

std::size_t ListenerTable::slot_of(std::uint64_t key) const
{
	const std::size_t mask = index_.size() - 1;
	std::size_t i = hash_of(key) & mask;
	while (index_[i] && stats_[index_[i] - 1].key != key)
		i = (i + 1) & mask;
	return i;
}

// At most half full: a probe ends soon.
void ListenerTable::rebuild_index(std::size_t min_entries)
{
	std::size_t cap = 64;
	while (cap < 2 * min_entries)
		cap *= 2;
	index_.assign(cap, 0);
	for (std::size_t i = 0; i < stats_.size(); i++)
		index_[slot_of(stats_[i].key)] = static_cast<std::uint32_t>(i + 1);
}

void ListenerTable::begin()
{
	for (auto &m : marks_)
		m &= static_cast<std::uint8_t>(~kSeen);
}

ListenerStat &ListenerTable::at(std::uint64_t key, bool *added)
{
	if (index_.size() < 2 * (stats_.size() + 1))
		rebuild_index(stats_.size() + 1);
	const std::size_t slot = slot_of(key);
	if (added)
		*added = !index_[slot];
	if (index_[slot]) {
		marks_[index_[slot] - 1] |= kSeen;
		return stats_[index_[slot] - 1];
	}
	stats_.emplace_back().key = key;
	marks_.push_back(kSeen);
	index_[slot] = static_cast<std::uint32_t>(stats_.size());
	return stats_.back();
}

bool ListenerTable::seen(std::uint64_t key) const
{
	if (index_.empty())
		return false;
	const std::size_t slot = slot_of(key);
	return index_[slot] && (marks_[index_[slot] - 1] & kSeen);
}

void ListenerTable::end()
{
	// Compacts in place, order kept.
	std::size_t out = 0;
	for (std::size_t i = 0; i < stats_.size(); i++) {
		if (!(marks_[i] & kSeen))
			continue;
		if (out != i) {
			stats_[out] = std::move(stats_[i]);
			marks_[out] = marks_[i];
		}
		out++;
	}
	const bool removed = out != stats_.size();
	stats_.resize(out);
	marks_.resize(out);
	if (removed) {
		stats_.shrink_to_fit();
		marks_.shrink_to_fit();
	}
	if (removed)
		rebuild_index(stats_.size());
}

}  // namespace listenq
