// The metric families of `listenq export`'s exposition, in their output
// order: the one table that the renderer (prom_body.cpp), --metrics
// (prom_render.cpp) and the series names a dashboard may use are read from.
// Internal to src/render.
#pragma once

#include <iterator>

#include "render/prom_render.h"

namespace listenq::prom {

struct Family {
	const char *name;
	const char *type;  // gauge, counter, histogram
	const char *help;
};

// Per row (a listener, or a port with --group-by port). The order is the
// output order.
inline constexpr Family kPortListeners{"listenq_port_listeners", "gauge",
				       "Listening sockets summed into this port's series (--group-by port)."};
inline constexpr Family kAcceptQueue{"listenq_accept_queue", "gauge",
				     "Connections in the accept queue, waiting for accept() (sk_ack_backlog)."};
inline constexpr Family kAcceptQueuePeak{"listenq_accept_queue_peak", "gauge",
					 "Highest accept queue since the previous scrape (tier 3: sampled every --sample-ms)."};
inline constexpr Family kOldestWait{"listenq_accept_queue_oldest_wait_seconds", "gauge",
				    "Head-of-line wait: how long the oldest connection in the accept queue has waited "
				    "(since its SYN-ACK); 0 when the queue is empty."};
inline constexpr Family kOldestWaitPeak{"listenq_accept_queue_oldest_wait_peak_seconds", "gauge",
					"Highest head-of-line wait since the previous scrape (sampled every --sample-ms)."};
inline constexpr Family kBacklog{"listenq_listen_backlog", "gauge",
				 "Accept queue limit (sk_max_ack_backlog): listen()'s backlog after the somaxconn clamp."};
inline constexpr Family kRequested{"listenq_listen_backlog_requested", "gauge",
				   "Backlog passed to listen(); absent for listeners that listened before listenq started."};
inline constexpr Family kSynQueue{"listenq_syn_queue", "gauge", "Request sockets in the SYN queue (icsk_accept_queue.qlen)."};
inline constexpr Family kSynQueuePeak{"listenq_syn_queue_peak", "gauge", "Highest SYN queue since the previous scrape (sampled)."};
inline constexpr Family kOverflows{"listenq_overflows_total", "counter",
				   "Accept-queue overflows by path: syn (SYN dropped), ack (final ACK dropped); "
				   "all where this tier cannot split them."};
inline constexpr Family kAccepts{"listenq_accepts_total", "counter", "Connections taken by accept()."};
inline constexpr Family kQueued{"listenq_connections_queued_total", "counter",
				"Connections put on the accept queue (tiers 1-2 only)."};
inline constexpr Family kSynqDrops{"listenq_syn_queue_full_drops_total", "counter",
				   "SYNs dropped because the SYN queue was full and syncookies were off (TCPReqQFullDrop)."};
inline constexpr Family kSynqCookies{"listenq_syn_queue_full_cookies_total", "counter",
				     "SYNs answered with a syncookie because the SYN queue was full (TCPReqQFullDoCookies)."};
inline constexpr Family kCookiesSent{"listenq_syncookies_sent_total", "counter", "Syncookies sent (SyncookiesSent)."};
inline constexpr Family kSynackRetrans{"listenq_synack_retransmits_total", "counter", "SYN-ACKs retransmitted."};
inline constexpr Family kSocketDrops{"listenq_socket_drops_total", "counter",
				     "Packets this listening socket dropped (sk_drops: overflows, SYN-queue drops, ...)."};
inline constexpr Family kWait{"listenq_accept_wait_seconds", "histogram",
			      "Time from the accept queue to accept() (tiers 1-2 only)."};

// listenq itself.
inline constexpr Family kBuildInfo{"listenq_build_info", "gauge", "listenq's version (always 1)."};
inline constexpr Family kTierInfo{"listenq_attach_tier_info", "gauge",
				  "The attach tiers in use: fentry, kprobe, tracepoint or a mix (always 1)."};
inline constexpr Family kExportInfo{"listenq_export_info", "gauge",
				    "What a row is (group_by: listener or port) and which series it has (metrics: default, full "
				    "or custom) (always 1)."};
inline constexpr Family kRowsLeftOut{"listenq_export_rows_left_out", "gauge",
				     "Rows (listeners, or ports) that --top left out of this scrape."};
inline constexpr Family kListeners{"listenq_listeners", "gauge", "Listeners tracked, in every netns, before the filters."};
inline constexpr Family kUntracked{"listenq_untracked_listeners", "gauge",
				   "Listeners the listener map had no room for in the last pass (raise --max-listeners)."};
inline constexpr Family kLost{"listenq_events_lost_total", "counter", "Events the ring buffer had no room for."};
inline constexpr Family kStale{"listenq_stale_entries_removed_total", "counter",
			       "Entries of listeners gone without a close being seen, removed after 5 s unvisited."};
inline constexpr Family kClosedLost{"listenq_closed_listeners_lost_total", "counter",
				    "Closed listeners whose last counts had no room (over 4096 closes between two scrapes)."};
inline constexpr Family kHookMisses{"listenq_hook_runs_missed_total", "counter",
				    "Runs of listenq's kprobe/fentry programs the kernel skipped (bpf_prog_info.recursion_misses, "
				    "5.12+): what they would have counted is missing."};
inline constexpr Family kNetnsUnseeded{"listenq_netns_not_entered", "gauge",
				       "Network namespaces the first pass could not enter (their older listeners are missed)."};
inline constexpr Family kSamples{"listenq_samples_total", "counter", "iter/tcp sampling passes run."};
inline constexpr Family kUnattributed{"listenq_unattributed_total", "counter",
				      "Tier 3: SYN-path counts of a netns that no single listener could be given."};
inline constexpr Family kRefused{"listenq_program_refused_info", "gauge",
				 "A BPF program (or map kind) the kernel or LISTENQ_REFUSE refused, the fact it served and what "
				 "serves instead (always 1)."};
inline constexpr Family kScrape{"listenq_scrape_duration_seconds", "gauge", "Time this scrape took: sample, read, render."};

inline constexpr Family kAll[] = {kPortListeners, kAcceptQueue, kAcceptQueuePeak, kOldestWait, kOldestWaitPeak, kBacklog,
				  kRequested, kSynQueue, kSynQueuePeak, kOverflows, kAccepts, kQueued, kSynqDrops,
				  kSynqCookies, kCookiesSent, kSynackRetrans, kSocketDrops, kWait, kBuildInfo, kTierInfo,
				  kExportInfo, kRowsLeftOut, kListeners, kUntracked, kLost, kStale, kClosedLost, kHookMisses, kNetnsUnseeded, kSamples,
				  kUnattributed, kRefused, kScrape};

// The family of each Metric, for --metrics.
inline constexpr const Family *kOfMetric[] = {&kAcceptQueue, &kAcceptQueuePeak, &kOldestWait, &kOldestWaitPeak,
					      &kBacklog,     &kRequested,	 &kSynQueue,   &kSynQueuePeak,
					      &kOverflows,   &kAccepts,	 &kQueued,     &kSynqDrops,
					      &kSynqCookies, &kCookiesSent,	 &kSynackRetrans, &kSocketDrops,
					      &kWait};
static_assert(std::size(kOfMetric) == static_cast<std::size_t>(Metric::count_));

// Upper bounds of the accept-wait buckets, in µs: every other power of two
// of the BPF log2 histogram (slot i holds [2^i, 2^(i+1)) µs), so each
// bucket is an exact sum of slots. 2 µs .. 33.5 s, then +Inf.
inline constexpr int kWaitBoundsLog2[] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25};

}  // namespace listenq::prom
