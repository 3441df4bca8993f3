// The exposition's vocabulary: --metrics, label escaping, the series
// names (render/prom_render.h). The body itself is prom_body.cpp.
#include "render/prom_render.h"

#include "render/prom_families.h"

namespace listenq {

using namespace prom;

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 (RFC 3629: no overlongs,
// no surrogates, nothing above U+10FFFF).
std::size_t utf8_length(const std::string &s, std::size_t i)
{
	const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
	const unsigned char c = b(i);
	if (c < 0x80)
		return 1;
	std::size_t n;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
	else
		return 0;
	if (i + n > s.size() || b(i + 1) < lo || b(i + 1) > hi)
		return 0;
	for (std::size_t k = 2; k < n; k++)
		if (b(i + k) < 0x80 || b(i + k) > 0xBF)
			return 0;
	return n;
}

}  // namespace

// Prometheus rejects a whole scrape over one label value that is not UTF-8,
// and comm is whatever bytes a process chose (prctl PR_SET_NAME): each
// invalid byte becomes U+FFFD.
std::string prometheus_label_escape(const std::string &v)
{
	std::string out;
	out.reserve(v.size());
	for (std::size_t i = 0; i < v.size();) {
		const char c = v[i];
		const std::size_t n = utf8_length(v, i);
		if (c == '\\' || c == '"')
			out += '\\', out += c;
		else if (c == '\n')
			out += "\\n";
		else if (n == 0)
			out += "\xEF\xBF\xBD";
		else
			out.append(v, i, n);
		i += n ? n : 1;
	}
	return out;
}

bool is_valid_utf8(const std::string &s)
{
	for (std::size_t i = 0; i < s.size();) {
		const std::size_t n = utf8_length(s, i);
		if (!n)
			return false;
		i += n;
	}
	return true;
}


MetricSet MetricSet::defaults()
{
	MetricSet m;
	for (Metric x : {Metric::accept_queue, Metric::oldest_wait, Metric::oldest_wait_peak, Metric::backlog,
			 Metric::syn_queue, Metric::overflows, Metric::socket_drops})
		m.add(x);
	return m;
}

MetricSet MetricSet::full()
{
	MetricSet m;
	for (unsigned i = 0; i < static_cast<unsigned>(Metric::count_); i++)
		m.add(static_cast<Metric>(i));
	return m;
}

Result<MetricSet> parse_metric_set(std::string_view text)
{
	MetricSet m;
	bool any = false;
	while (!text.empty()) {
		const std::size_t comma = text.find(',');
		std::string_view item = text.substr(0, comma);
		text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
		if (item.empty())
			continue;
		any = true;
		if (item == "default" || item == "full") {
			const MetricSet add = item == "default" ? MetricSet::defaults() : MetricSet::full();
			for (unsigned i = 0; i < static_cast<unsigned>(Metric::count_); i++)
				if (add.has(static_cast<Metric>(i)))
					m.add(static_cast<Metric>(i));
			continue;
		}
		const std::string_view name = item.substr(0, 8) == "listenq_" ? item.substr(8) : item;
		bool found = false;
		for (unsigned i = 0; i < static_cast<unsigned>(Metric::count_) && !found; i++)
			if (name == std::string_view(kOfMetric[i]->name).substr(8)) {
				m.add(static_cast<Metric>(i));
				found = true;
			}
		if (!found)
			return Error{EINVAL, "\"" + std::string(item) +
						     "\" is not default, full or a per-row family (listenq_accept_queue_peak, "
						     "listenq_accept_wait_seconds, ...: docs/metrics.md)"};
	}
	if (!any)
		return Error{EINVAL, "expected default, full or a list of families"};
	return m;
}

std::string metric_set_name(const MetricSet &m)
{
	return m == MetricSet::defaults() ? "default" : m == MetricSet::full() ? "full" : "custom";
}

std::vector<std::string> prometheus_series_names()
{
	std::vector<std::string> v;
	for (const Family &f : kAll) {
		if (std::string(f.type) == "histogram") {
			for (const char *suffix : {"_bucket", "_sum", "_count"})
				v.push_back(std::string(f.name) + suffix);
		} else {
			v.push_back(f.name);
		}
	}
	return v;
}

}  // namespace listenq
