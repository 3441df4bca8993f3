#include "render/hist_render.h"

#include <algorithm>
#include <cstdio>

#include "render/table.h"

namespace listenq {

namespace {

constexpr int kBarWidth = 40;

// Slot i holds values in [2^i, 2^(i+1) - 1]; slot 0 also holds 0.
std::uint64_t slot_low(int i) { return i == 0 ? 0 : 1ULL << i; }
std::uint64_t slot_high(int i) { return (2ULL << i) - 1; }

int last_used(const Log2Hist &h)
{
	int last = -1;
	for (int i = 0; i < kHistSlots; i++)
		if (h[static_cast<std::size_t>(i)])
			last = i;
	return last;
}

std::string who(const ListenerStat &s)
{
	std::string out = format_endpoint(s.id, std::to_string(s.id.port));
	out += s.owner_pid ? " (pid " + std::to_string(s.owner_pid) + "/" + s.owner_comm : " (owner unknown";
	return out + ", backlog " + std::to_string(s.backlog) + ")";
}

bool depth_sampled(const TraceHeader &h) { return h.fields.of(TraceField::depth_hist) == Provenance::sampled; }

}  // namespace

void render_log2_hist(std::ostream &os, const Log2Hist &h, const std::string &unit)
{
	const int last = last_used(h);
	if (last < 0) {
		os << "     (no samples)\n";
		return;
	}
	std::uint32_t max = 0;
	for (int i = 0; i <= last; i++)
		max = std::max(max, h[static_cast<std::size_t>(i)]);
	char line[160];
	std::snprintf(line, sizeof(line), "%24s : count    distribution\n", unit.c_str());
	os << line;
	for (int i = 0; i <= last; i++) {
		const std::uint32_t c = h[static_cast<std::size_t>(i)];
		const int stars = max ? static_cast<int>(static_cast<std::uint64_t>(c) * kBarWidth / max) : 0;
		std::snprintf(line, sizeof(line), "%10llu -> %-10llu : %-8u |%-*s|\n",
			      static_cast<unsigned long long>(slot_low(i)), static_cast<unsigned long long>(slot_high(i)), c,
			      kBarWidth, std::string(static_cast<std::size_t>(stars), '*').c_str());
		os << line;
	}
}

nlohmann::ordered_json log2_hist_json(const Log2Hist &h)
{
	nlohmann::ordered_json b = nlohmann::ordered_json::array();
	for (int i = 0; i <= last_used(h); i++)
		b.push_back({{"low", slot_low(i)}, {"high", slot_high(i)}, {"count", h[static_cast<std::size_t>(i)]}});
	return b;
}

void render_hist_text(std::ostream &os, const TraceHeader &h, const std::vector<ListenerStat> &ls)
{
	const bool waits_measured = h.fields.measured(TraceField::accept_wait);
	os << "listenq hist: tier " << h.tier << ", " << count_of(ls.size(), "listener") << '\n';
	render_legend(os, h);
	for (const ListenerStat &s : ls) {
		os << '\n' << who(s) << '\n';
		os << "  accept-queue depth "
		   << (depth_sampled(h) ? "sampled every " + std::to_string(h.sample_ms) + " ms" : "at each enqueue")
		   << ":\n";
		render_log2_hist(os, s.depth_hist, "depth");
		if (waits_measured) {
			os << "  accept wait (queued -> accept()):\n";
			render_log2_hist(os, s.wait_hist, "usecs");
		} else {
			print_folded(os, "  accept wait:",
				     "not measured in tier " + h.tier +
					     " (needs fentry or kprobe on inet_csk_reqsk_queue_add and inet_csk_accept)");
		}
		if (h.fields.measured(TraceField::hol_wait))
			print_folded(os, "  head-of-line wait:",
				     "peak " + std::to_string(s.hol_wait_peak_us) + " usecs, now " + std::to_string(s.hol_wait_us) +
					     " usecs (the oldest queued connection, sampled every " +
					     std::to_string(h.sample_ms) + " ms)");
	}
}

nlohmann::ordered_json hist_json(const TraceHeader &h, const std::vector<ListenerStat> &ls)
{
	const bool waits_measured = h.fields.measured(TraceField::accept_wait);
	nlohmann::ordered_json out = nlohmann::ordered_json::array();
	for (const ListenerStat &s : ls) {
		nlohmann::ordered_json x = listener_stat_identity_json(s);
		x.update(nlohmann::ordered_json{
			{"backlog", s.backlog},
			{"depth", {{"sampled", depth_sampled(h)}, {"buckets", log2_hist_json(s.depth_hist)}}},
			{"accept_wait_us", waits_measured ? nlohmann::ordered_json{{"buckets", log2_hist_json(s.wait_hist)}}
							  : nlohmann::ordered_json(nullptr)},
			{"hol_wait_us", h.fields.measured(TraceField::hol_wait)
						? nlohmann::ordered_json{{"now", s.hol_wait_us}, {"peak", s.hol_wait_peak_us}}
						: nlohmann::ordered_json(nullptr)}});
		out.push_back(std::move(x));
	}
	return {{"schema", "listenq.hist/1"},
		{"tier", h.tier},
		{"sample_ms", h.sample_ms},
		{"refused", refused_json(h.refused)},
		{"listeners", out}};
}

}  // namespace listenq
