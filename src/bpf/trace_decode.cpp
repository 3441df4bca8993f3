#include "bpf/trace_decode.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

#include "listenq/abi.h"

namespace listenq {

static_assert(sizeof(lq_listener_key) == 16);
static_assert(sizeof(lq_event) == 104);
static_assert(offsetof(lq_event, type) == 60);
static_assert(offsetof(lq_event, accepted) == 88);
static_assert(offsetof(lq_listener_state, requested_backlog) == 44);
static_assert(offsetof(lq_listener_state, listen_ts_ns) == 80);
static_assert(offsetof(lq_listener_state, depth_hist) == 176);
static_assert(offsetof(lq_listener_state, sock_ino) == 432);
static_assert(offsetof(lq_listener_state, hol_wait_us) == 440);
static_assert(offsetof(lq_listener_state, accepted_derived) == 456);
static_assert(offsetof(lq_listener_state, sk_addr) == 464);
static_assert(sizeof(lq_listener_state) == 480);

namespace {

std::string comm_of(const char (&c)[LQ_COMM_LEN]) { return std::string(c, strnlen(c, LQ_COMM_LEN)); }

}  // namespace

void update_listener_stat(ListenerStat &s, const lq_listener_key &key, const lq_listener_state &st, bool ptr_keys,
			  HistKinds hists)
{
	set_endpoint(s.id, st.family, st.addr, st.port);
	s.id.netns = key.netns;
	s.id.cookie = ptr_keys ? 0 : key.cookie;
	s.key = key.cookie;
	s.id.backlog = st.effective_backlog;
	s.id.accept_queue = st.accept_queue;
	s.id.syn_queue = st.syn_queue;
	s.id.drops = st.drops;
	s.owner_pid = st.owner_tgid;
	s.owner_comm.assign(st.owner_comm, strnlen(st.owner_comm, LQ_COMM_LEN));
	s.requested_backlog.reset();
	if (st.requested_backlog != LQ_BACKLOG_UNKNOWN)
		s.requested_backlog = st.requested_backlog;
	s.backlog = st.effective_backlog;
	s.accept_queue = st.accept_queue;
	s.accept_queue_peak = std::max(st.accept_queue_peak, st.accept_queue);
	s.syn_queue = st.syn_queue;
	s.syn_queue_peak = std::max(st.syn_queue_peak, st.syn_queue);
	s.drops = st.drops;
	s.seeded = st.flags & LQ_F_SEEDED;
	s.id.inode = st.sock_ino;
	s.enqueued = st.enqueued;
	// Two lower bounds: accept hooks can miss (a kretprobe without a free
	// instance); the derived count lags until the next sample.
	s.accepted = std::max(st.accepted, st.accepted_derived);
	s.overflow_syn = st.overflow_syn;
	s.overflow_ack = st.overflow_ack;
	s.synack_retrans = st.synack_retrans;
	s.samples = st.samples;
	s.wait_sum_ns = st.wait_sum_ns;
	s.synq_full_drops = st.synq_full_drops;
	s.synq_full_cookies = st.synq_full_cookies;
	s.syncookies_sent = st.syncookies_sent;
	s.hol_wait_us = st.hol_wait_us;
	s.hol_wait_peak_us = std::max(st.hol_wait_peak_us, st.hol_wait_us);
	if (hists.depth)
		s.depth_hist.assign(st.depth_hist);
	else
		s.depth_hist.clear();
	if (hists.wait)
		s.wait_hist.assign(st.wait_hist);
	else
		s.wait_hist.clear();
}

void add_unread_samples(ListenerStat &s, const lq_listener_state &st, std::uint32_t tick, bool depth_at_samples)
{
	if (!st.last_tick || tick <= st.last_tick)
		return;
	const std::uint32_t n = tick - st.last_tick;
	s.samples += n;
	if (depth_at_samples)
		s.depth_hist[0] += n;
}

ListenerStat listener_stat_from(const lq_listener_key &key, const lq_listener_state &st, bool ptr_keys)
{
	ListenerStat s;
	update_listener_stat(s, key, st, ptr_keys, HistKinds{true, true});
	return s;
}

Result<TraceEvent> decode_event(std::span<const std::uint8_t> bytes, bool ptr_keys)
{
	if (bytes.size() != sizeof(lq_event))
		return Error{EPROTO, "decode event: " + std::to_string(bytes.size()) + " bytes, expected " +
					     std::to_string(sizeof(lq_event)) + " (BPF/ABI mismatch)"};
	lq_event e;
	std::memcpy(&e, bytes.data(), sizeof(e));
	TraceEvent t;
	t.ts_ns = e.ts_ns;
	switch (e.type) {
	case LQ_EV_LISTEN: t.type = EventType::listen; break;
	case LQ_EV_RELISTEN: t.type = EventType::relisten; break;
	case LQ_EV_CLAMP: t.type = EventType::clamp; break;
	case LQ_EV_CLOSE: t.type = EventType::close; break;
	case LQ_EV_OVERFLOW: t.type = EventType::overflow; break;
	default: return Error{EPROTO, "decode event: unknown type " + std::to_string(e.type)};
	}
	t.cookie = ptr_keys ? 0 : e.cookie;
	t.netns = e.netns;
	t.pid = e.tgid;
	t.comm = comm_of(e.comm);
	set_endpoint(t.where, e.family, e.addr, e.port);
	t.where.netns = e.netns;
	t.where.cookie = t.cookie;
	t.where.accept_queue = e.queue;
	t.where.backlog = e.effective;
	if (e.requested != LQ_BACKLOG_UNKNOWN)
		t.requested = e.requested;
	t.effective = e.effective;
	t.prev_effective = e.prev_effective;
	t.overflow_path = e.overflow_path == 1 ? "syn" : e.overflow_path == 2 ? "ack" : "";
	t.accepted = e.accepted;
	t.overflows = e.overflows;
	return t;
}

}  // namespace listenq
