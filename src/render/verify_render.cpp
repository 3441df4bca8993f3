#include "render/verify_render.h"

#include <map>

#include "render/table.h"

namespace listenq {

namespace {

std::string values_cell(const FieldResult &f, const std::vector<Source> &sources)
{
	std::string out;
	for (Source s : sources) {
		if (f.field == Field::drops && s == Source::proc)
			continue;
		if (!out.empty())
			out += '/';
		const auto &v = f.values[static_cast<int>(s)];
		out += v ? std::to_string(*v) : "-";
	}
	return out;
}

std::string legend(const std::vector<Source> &sources, bool drops)
{
	std::string out;
	for (Source s : sources) {
		if (drops && s == Source::proc)
			continue;
		out += source_name(s)[0];
	}
	return out;
}

// Numbers footnotes in order of first use.
class Footnotes {
public:
	std::string mark(const std::string &id)
	{
		auto [it, added] = index_.emplace(id, static_cast<int>(order_.size()) + 1);
		if (added)
			order_.push_back(id);
		return "[" + std::to_string(it->second) + "]";
	}
	const std::vector<std::string> &order() const { return order_; }

private:
	std::map<std::string, int> index_;
	std::vector<std::string> order_;
};

std::string endpoint(const Listener &l) { return format_endpoint(l, std::to_string(l.port)); }

}  // namespace

// Long: verify's table and notes, in the order they print.
void render_verify_text(std::ostream &os, const VerifyReport &r)
{
	os << "listenq verify: netns " << r.netns << ", sources";
	for (Source s : r.sources)
		os << ' ' << (s == Source::bpf ? r.bpf_source : std::string(source_label(s)));
	os << '\n';
	os << "tcp_diag: "
	   << (r.diag_emulated ? "treated as missing (--emulate-no-tcp-diag)"
			       : r.diag_unavailable ? "unavailable: " + r.diag_detail : std::string("available"))
	   << "\n\n";

	const Comparison &c = r.comparison;
	using A = TextTable::Align;
	TextTable t({{"Local Address:Port", A::left},
		     {"Recv-Q " + legend(r.sources, false), A::left},
		     {"Send-Q " + legend(r.sources, false), A::left},
		     {"Drops " + legend(r.sources, true), A::left},
		     {"Verdict", A::left}});
	Footnotes notes;
	for (const ListenerResult &lr : c.listeners) {
		std::vector<std::string> row = {endpoint(lr.listener)};
		for (const FieldResult &f : lr.fields) {
			std::string cell = values_cell(f, r.sources);
			if (!f.explanation.empty())
				cell += ' ' + notes.mark(f.explanation);
			if (f.verdict == Verdict::mismatch)
				cell += " !";
			row.push_back(cell);
		}
		std::string verdict(verdict_name(lr.verdict));
		if (lr.verdict == Verdict::mismatch)
			verdict = "MISMATCH";
		for (const auto &e : lr.explanations)
			verdict += ' ' + notes.mark(e);
		if (!lr.missing_from.empty()) {
			verdict += " (missing from";
			for (Source s : lr.missing_from)
				verdict += " " + (s == Source::bpf ? r.bpf_source : std::string(source_label(s)));
			verdict += ")";
		}
		if (lr.rereads)
			verdict += " after " + count_of(lr.rereads, "re-read");
		row.push_back(verdict);
		t.add_row(std::move(row));
	}
	t.print(os);
	os << "(columns: b = " << r.bpf_source << ", d = inet_diag, p = /proc/net/tcp; - = not read; ! = disagree)\n";
	for (const auto &id : c.notes)
		notes.mark(id);
	if (!notes.order().empty())
		os << '\n';
	for (std::size_t i = 0; i < notes.order().size(); i++)
		print_folded(os, "[" + std::to_string(i + 1) + "]", explanation_text(notes.order()[i]));

	if (r.counters) {
		const ListenCounters &k = *r.counters;
		os << '\n';
		print_folded(os, "netns TcpExt:",
			   "ListenOverflows " + std::to_string(k.listen_overflows) + ", ListenDrops " +
				   std::to_string(k.listen_drops) + ", TCPReqQFullDrop " + std::to_string(k.reqq_full_drop) +
				   ", TCPReqQFullDoCookies " + std::to_string(k.reqq_full_do_cookies) +
				   ", SyncookiesSent " + std::to_string(k.syncookies_sent));
	}
	if (!r.ss_without_tcp_diag.empty()) {
		os << "\nWhat `ss -lnt` prints without tcp_diag (it reads /proc/net/tcp):\n" << r.ss_without_tcp_diag;
		os << "\nWhat `listenq ss -lnt` prints (" << r.bpf_source << "):\n" << r.listenq_ss;
	}
	int rereads = 0;
	for (const auto &lr : c.listeners)
		rereads += lr.rereads;
	os << "\nsummary: " << count_of(c.listeners.size(), "listener") << ": " << c.count(Verdict::agree) << " agree, "
	   << c.count(Verdict::explained) << " explained, " << c.count(Verdict::mismatch) << " mismatch; " << rereads
	   << " re-reads\n";
}

// Long: the verify/1 schema, key by key as docs/json.md lists it.
nlohmann::ordered_json verify_to_json(const VerifyReport &r)
{
	using json = nlohmann::ordered_json;
	const Comparison &c = r.comparison;
	json sources = json::array();
	for (Source s : r.sources)
		sources.push_back(source_name(s));
	json listeners = json::array();
	std::map<std::string, bool> used;
	for (const ListenerResult &lr : c.listeners) {
		json fields = json::object();
		for (const FieldResult &f : lr.fields) {
			json fj = json::object();
			for (Source s : kSources) {
				const auto &v = f.values[static_cast<int>(s)];
				fj[std::string(source_name(s))] = v ? json(*v) : json(nullptr);
			}
			fj["verdict"] = verdict_name(f.verdict);
			fj["explanation"] = f.explanation.empty() ? json(nullptr) : json(f.explanation);
			if (!f.explanation.empty())
				used[f.explanation] = true;
			fields[std::string(field_name(f.field))] = fj;
		}
		json missing = json::array();
		for (Source s : lr.missing_from)
			missing.push_back(source_name(s));
		for (const auto &e : lr.explanations)
			used[e] = true;
		const Listener &l = lr.listener;
		listeners.push_back({{"family", l.family == 10 ? "ipv6" : "ipv4"},
				     {"local_address", format_address(l.family, l.addr)},
				     {"port", l.port},
				     {"cookie", l.cookie},
				     {"inode", l.inode},
				     {"verdict", verdict_name(lr.verdict)},
				     {"rereads", lr.rereads},
				     {"explanations", lr.explanations},
				     {"missing_from", missing},
				     {"fields", fields}});
	}
	for (const auto &id : c.notes)
		used[id] = true;
	json texts = json::object();
	for (const auto &[id, _] : used)
		texts[id] = explanation_text(id);
	json counters = nullptr;
	if (r.counters)
		counters = {{"listen_overflows", r.counters->listen_overflows},
			    {"listen_drops", r.counters->listen_drops},
			    {"reqq_full_drop", r.counters->reqq_full_drop},
			    {"reqq_full_do_cookies", r.counters->reqq_full_do_cookies},
			    {"syncookies_sent", r.counters->syncookies_sent}};
	int rereads = 0;
	for (const auto &lr : c.listeners)
		rereads += lr.rereads;
	return {{"schema", "listenq.verify/1"},
		{"netns", r.netns},
		{"sources", sources},
		{"bpf_source", r.bpf_source},
		{"tcp_diag",
		 {{"available", !r.diag_unavailable && !r.diag_emulated},
		  {"emulated_missing", r.diag_emulated},
		  {"detail", r.diag_detail}}},
		{"listeners", listeners},
		{"notes", c.notes},
		{"explanations", texts},
		{"counters", counters},
		{"ss_without_tcp_diag", r.ss_without_tcp_diag.empty() ? json(nullptr) : json(r.ss_without_tcp_diag)},
		{"summary",
		 {{"listeners", c.listeners.size()},
		  {"agree", c.count(Verdict::agree)},
		  {"explained", c.count(Verdict::explained)},
		  {"mismatch", c.count(Verdict::mismatch)},
		  {"rereads", rereads}}}};
}

}  // namespace listenq
