// Golden-file comparison. LISTENQ_UPDATE_GOLDEN=1 rewrites the files
// (review the diff before committing).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace listenq::testing {

std::string fixture_path(const std::string &name);
std::vector<std::uint8_t> read_fixture_bytes(const std::string &name);
std::string read_fixture_text(const std::string &name);
void expect_golden(const std::string &name, const std::string &actual);

}  // namespace listenq::testing
