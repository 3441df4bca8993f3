#include "plan/features.h"

namespace listenq {

namespace {

const Capability &not_probed()
{
	static const Capability c = Capability::no("not probed");
	return c;
}

}  // namespace

const Capability &KernelFeatures::kind(ProgKind k) const
{
	auto it = kinds.find(k);
	return it == kinds.end() ? not_probed() : it->second;
}

const Capability &KernelFeatures::map(MapKind k) const
{
	auto it = maps.find(k);
	return it == maps.end() ? not_probed() : it->second;
}

const FunctionFeatures *KernelFeatures::function(std::string_view name) const
{
	for (const auto &f : functions)
		if (f.function == name)
			return &f;
	return nullptr;
}

}  // namespace listenq
