#include "jkbms/app/charge_state_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace jkbms::app {

namespace {

// Seconds ago as Unix time, so the time the daemon was not running counts too.
long long unixTimeAgo(std::chrono::system_clock::time_point now, double agoS) {
    const auto at = now - std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(agoS));
    return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
}

double secondsSince(std::chrono::system_clock::time_point now, const std::string& unixTime) {
    const auto at = std::chrono::system_clock::time_point(std::chrono::seconds(std::stoll(unixTime)));
    return std::chrono::duration<double>(now - at).count();
}

}  // namespace

std::string formatChargeState(const charge::EngineState& st, std::chrono::system_clock::time_point now) {
    std::ostringstream out;
    out << "mode=" << charge::chargeModeName(st.mode) << '\n';
    out << "absorption_s=" << st.absorptionS << '\n';
    out << "absorption_total_s=" << st.absorptionTotalS << '\n';
    out << "equalize_at=" << unixTimeAgo(now, st.sinceEqualizeS) << '\n';
    if (st.sinceFullChargeS >= 0) out << "full_charge_at=" << unixTimeAgo(now, st.sinceFullChargeS) << '\n';
    return out.str();
}

std::optional<charge::EngineState> parseChargeState(const std::string& text, std::chrono::system_clock::time_point now) {
    charge::EngineState st;
    bool haveMode = false;
    std::string lines = text;
    std::replace(lines.begin(), lines.end(), ';', '\n');  // the one-line form kept in localsettings
    std::istringstream in(lines);
    for (std::string line; std::getline(in, line);) {
        const auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        const std::string key = line.substr(0, eq);
        const std::string value = line.substr(eq + 1);
        try {
            if (key == "mode") {
                for (auto m : {charge::ChargeMode::Bulk, charge::ChargeMode::Absorption, charge::ChargeMode::Float,
                               charge::ChargeMode::Equalize})
                    if (value == charge::chargeModeName(m)) {
                        st.mode = m;
                        haveMode = true;
                    }
            } else if (key == "absorption_s") {
                st.absorptionS = std::max(0.0, std::stod(value));
            } else if (key == "absorption_total_s") {
                st.absorptionTotalS = std::max(0.0, std::stod(value));
            } else if (key == "equalize_at") {
                st.sinceEqualizeS = std::max(0.0, secondsSince(now, value));
            } else if (key == "full_charge_at") {
                const double ago = secondsSince(now, value);
                if (ago >= 0) st.sinceFullChargeS = ago;
            }
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    if (!haveMode) return std::nullopt;
    return st;
}

bool saveChargeState(const std::string& path, const std::string& text, std::string& error) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << text;
        out.flush();
        if (!out) {
            error = std::strerror(errno);
            return false;
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        error = std::strerror(errno);
        return false;
    }
    return true;
}

std::optional<charge::EngineState> loadChargeState(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return parseChargeState(text.str(), std::chrono::system_clock::now());
}

}  // namespace jkbms::app
