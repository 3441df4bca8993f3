#include "crossval/compare.h"

#include <algorithm>
#include <map>

namespace listenq {

std::string_view source_name(Source s)
{
	switch (s) {
	case Source::bpf: return "bpf";
	case Source::diag: return "diag";
	case Source::proc: return "proc";
	}
	return "?";
}

std::string_view source_label(Source s)
{
	switch (s) {
	case Source::bpf: return "iter/tcp";
	case Source::diag: return "inet_diag";
	case Source::proc: return "/proc/net/tcp";
	}
	return "?";
}

std::string_view verdict_name(Verdict v)
{
	switch (v) {
	case Verdict::agree: return "agree";
	case Verdict::explained: return "explained";
	case Verdict::mismatch: return "mismatch";
	}
	return "?";
}

std::string_view field_name(Field f)
{
	switch (f) {
	case Field::accept_queue: return "accept_queue";
	case Field::backlog: return "backlog";
	case Field::drops: return "drops";
	}
	return "?";
}

const std::optional<std::vector<Listener>> &SourceData::of(Source s) const
{
	return s == Source::bpf ? bpf : s == Source::diag ? diag : proc;
}

int Comparison::count(Verdict v) const
{
	return static_cast<int>(std::count_if(listeners.begin(), listeners.end(),
					      [v](const ListenerResult &r) { return r.verdict == v; }));
}

std::string explanation_text(std::string_view id)
{
	static const std::map<std::string_view, std::string_view> texts = {
		{"proc_no_backlog",
		 "/proc has no backlog column: tx_queue is 0 for every LISTEN socket, so `ss` shows Send-Q 0 "
		 "when tcp_diag is missing"},
		{"tcp_diag_missing", "tcp_diag not available on this kernel: ss falls back to /proc"},
		{"tcp_diag_emulated",
		 "tcp_diag treated as missing (--emulate-no-tcp-diag): ss would fall back to /proc"},
		{"drops_all_listen_drops",
		 "drops is the socket's sk_drops: one per ListenDrops (TcpExt ListenOverflows is a subset), and "
		 "one more per ACK-path overflow of a SYN-queue request, whose ACK tcp_v4_rcv() also counts in "
		 "sk_drops_add()"},
		{"racy_reread", "the queue changed between reads (live traffic); the sources agreed on a re-read"},
		{"listener_closed", "the listener closed while it was being compared"},
		{"no_drops_in_proc", "/proc/net/tcp has no drops column for TCP"},
	};
	auto it = texts.find(id);
	return it == texts.end() ? std::string() : std::string(it->second);
}

namespace {

std::uint32_t field_of(const Listener &l, Field f)
{
	switch (f) {
	case Field::accept_queue: return l.accept_queue;
	case Field::backlog: return l.backlog;
	case Field::drops: return l.drops;
	}
	return 0;
}

FieldResult compare_field(Field f, const std::array<const Listener *, 3> &by_src)
{
	FieldResult r{f, {}, Verdict::agree, {}};
	for (Source s : kSources) {
		const Listener *l = by_src[static_cast<int>(s)];
		if (l && !(f == Field::drops && s == Source::proc))
			r.values[static_cast<int>(s)] = field_of(*l, f);
	}
	const auto &bpf = r.values[0], &diag = r.values[1], &proc = r.values[2];
	if (bpf && diag && *bpf != *diag)
		r.verdict = Verdict::mismatch;
	if (proc) {
		std::optional<std::uint32_t> other = bpf ? bpf : diag;
		if (f == Field::backlog && *proc == 0 && (!other || *other != 0)) {
			if (r.verdict != Verdict::mismatch) {
				r.verdict = Verdict::explained;
				r.explanation = "proc_no_backlog";
			}
		} else if (other && *other != *proc) {
			r.verdict = Verdict::mismatch;
		}
	}
	return r;
}

}  // namespace

// Long: one verdict per listener and field over the three sources, with its explanation; the per-field rule is compare_field(), the texts a table above.
Comparison compare_sources(const SourceData &d)
{
	struct Entry {
		std::array<const Listener *, 3> by_src{};
	};
	std::vector<Entry> entries;
	std::map<std::uint64_t, std::size_t> by_cookie, by_inode;
	auto add = [&](Source s, const Listener &l) {
		std::optional<std::size_t> idx;
		if (s != Source::proc && l.cookie)
			if (auto it = by_cookie.find(l.cookie); it != by_cookie.end())
				idx = it->second;
		if (!idx && l.inode)
			if (auto it = by_inode.find(l.inode); it != by_inode.end() &&
							      !entries[it->second].by_src[static_cast<int>(s)])
				idx = it->second;
		if (!idx) {
			idx = entries.size();
			entries.emplace_back();
		}
		entries[*idx].by_src[static_cast<int>(s)] = &l;
		if (s != Source::proc && l.cookie)
			by_cookie[l.cookie] = *idx;
		if (l.inode)
			by_inode[l.inode] = *idx;
	};
	for (Source s : kSources)
		if (const auto &v = d.of(s))
			for (const Listener &l : *v)
				add(s, l);

	Comparison c;
	bool any_drops = false;
	for (const Entry &e : entries) {
		ListenerResult r;
		for (Source s : kSources) {
			const Listener *l = e.by_src[static_cast<int>(s)];
			if (l && r.listener.family == 0)
				r.listener = *l;
			if (!l && d.of(s))
				r.missing_from.push_back(s);
		}
		// Identity fields that only some sources carry.
		for (const Listener *l : e.by_src)
			if (l) {
				r.listener.cookie = std::max(r.listener.cookie, l->cookie);
				r.listener.inode = std::max(r.listener.inode, l->inode);
			}
		for (Field f : kFields) {
			FieldResult fr = compare_field(f, e.by_src);
			r.verdict = std::max(r.verdict, fr.verdict);
			if (f == Field::drops)
				for (const auto &v : fr.values)
					any_drops |= v && *v > 0;
			r.fields.push_back(std::move(fr));
		}
		if (!r.missing_from.empty())
			r.verdict = Verdict::mismatch;
		c.listeners.push_back(std::move(r));
	}
	std::stable_sort(c.listeners.begin(), c.listeners.end(), [](const ListenerResult &a, const ListenerResult &b) {
		const Listener &x = a.listener, &y = b.listener;
		return std::tie(x.port, x.family, x.addr, x.inode) < std::tie(y.port, y.family, y.addr, y.inode);
	});

	if (d.diag_emulated)
		c.notes.push_back("tcp_diag_emulated");
	else if (d.diag_unavailable)
		c.notes.push_back("tcp_diag_missing");
	if (d.proc)
		c.notes.push_back("no_drops_in_proc");
	if (any_drops)
		c.notes.push_back("drops_all_listen_drops");
	return c;
}

namespace {

bool same_listener(const Listener &a, const Listener &b)
{
	return (a.cookie && a.cookie == b.cookie) || (a.inode && a.inode == b.inode);
}

}  // namespace

Result<Comparison> verify_listeners(const SourceReader &read, const ListenerFilter &filter, int max_rereads)
{
	auto first = read(filter);
	if (!first)
		return first.error();
	Comparison c = compare_sources(*first);
	for (ListenerResult &r : c.listeners) {
		if (r.verdict != Verdict::mismatch)
			continue;
		ListenerFilter one = filter;
		one.port = r.listener.port;
		one.ipv4 = r.listener.family == 2;
		one.ipv6 = r.listener.family == 10;
		for (int k = 1; k <= max_rereads; k++) {
			auto again = read(one);
			if (!again)
				return again.error();
			Comparison c2 = compare_sources(*again);
			auto it = std::find_if(c2.listeners.begin(), c2.listeners.end(),
					       [&](const ListenerResult &x) { return same_listener(x.listener, r.listener); });
			if (it == c2.listeners.end()) {
				r.verdict = Verdict::explained;
				r.rereads = k;
				r.explanations.push_back("listener_closed");
				break;
			}
			if (it->verdict != Verdict::mismatch) {
				it->rereads = k;
				it->explanations.push_back("racy_reread");
				r = std::move(*it);
				break;
			}
			r.rereads = k;
		}
	}
	return c;
}

}  // namespace listenq
