#include "probe_capture.h"

#include <cerrno>

namespace listenq {

Result<KernelFeatures> features_from_probe_json(const nlohmann::ordered_json &doc)
{
	try {
		KernelFeatures f;
		auto cap = [](const nlohmann::ordered_json &j) {
			return Capability{j.at("ok").get<bool>(), j.at("detail").get<std::string>(), j.value("errno", 0)};
		};
		const auto &c = doc.at("capabilities");
		f.btf = cap(c.at("btf"));
		f.prog_tracing = cap(c.at("prog_tracing"));
		f.drop_reason = cap(c.at("drop_reason"));
		// Absent from captures made before it was probed.
		f.test_run_for_each = c.contains("test_run_for_each") ? cap(c.at("test_run_for_each"))
								      : Capability::no("not in this capture");
		for (ProgKind kind : kAllProgKinds)
			f.kinds[kind] = cap(c.at("kinds").at(std::string(prog_kind_name(kind))));
		for (MapKind m : kAllMapKinds)  // global_data: absent from captures before it was probed
			if (m != MapKind::global_data || c.at("maps").contains(std::string(map_kind_name(m))))
				f.maps[m] = cap(c.at("maps").at(std::string(map_kind_name(m))));
		for (const auto &fn : doc.at("functions")) {
			FunctionFeatures x;
			x.function = fn.at("function").get<std::string>();
			x.present = fn.at("present").get<bool>();
			x.absent_why = fn.at("absent_why").get<std::string>();
			if (!fn.at("fentry").is_null())
				x.fentry = cap(fn.at("fentry"));
			if (!fn.at("kprobe").is_null())
				x.kprobe = cap(fn.at("kprobe"));
			f.functions.push_back(std::move(x));
		}
		return f;
	} catch (const nlohmann::json::exception &e) {
		return Error{EINVAL, std::string("probe JSON: ") + e.what()};
	}
}

}  // namespace listenq
