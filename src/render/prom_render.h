// `listenq export`: the Prometheus text exposition format (version 0.0.4).
// Pure: a scrape's data in, the /metrics body out. The metric names are a
// stable interface (docs/metrics.md, contrib/grafana/listenq.json).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/syn_attribution.h"
#include "model/trace_model.h"
#include "plan/plan.h"

namespace listenq {

struct ExportScrape {
	std::string version;                  // listenq_build_info
	std::string tier;                     // listenq_attach_tier_info
	FieldSources fields;                  // series of fields not measured are left out
	std::vector<RefusedProgram> refused;  // listenq_program_refused_info
	// The ones exported (after the filters), in order: listener_refs when
	// not empty (the tracer's own copy, not copied again), else listeners.
	std::vector<ListenerStat> listeners;
	std::vector<const ListenerStat *> listener_refs;
	std::vector<const ListenerStat *> exported() const;
	std::uint64_t listeners_tracked = 0;  // every listener in the map
	std::uint64_t untracked = 0, events_lost = 0, stale_removed = 0, netns_unseeded = 0, samples = 0;
	std::vector<Unattributed> unattributed;
	double scrape_seconds = 0;  // sampling + reading + this rendering, so far
};

// elapsed, when given, is called last, for listenq_scrape_duration_seconds
// (so that the rendering is counted too); else s.scrape_seconds is used.
std::string render_prometheus(const ExportScrape &s, const std::function<double()> &elapsed = nullptr);

// Every metric family render_prometheus can write (with _bucket/_sum/_count
// for the histogram): what a dashboard may use.
std::vector<std::string> prometheus_series_names();

// A label value escaped per the exposition format (\\, \", \n), with
// bytes that are not UTF-8 replaced by U+FFFD.
std::string prometheus_label_escape(const std::string &v);
bool is_valid_utf8(const std::string &s);

}  // namespace listenq
