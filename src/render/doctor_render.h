// `listenq doctor`: findings as text (sorted by severity, folded at 79
// columns) and as JSON (listenq.doctor/1, docs/json.md).
#pragma once

#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "doctor/findings.h"

namespace listenq {

void render_doctor_text(std::ostream &os, const DoctorInput &in, const std::vector<Finding> &findings);
nlohmann::ordered_json doctor_json(const DoctorInput &in, const std::vector<Finding> &findings);

}  // namespace listenq
