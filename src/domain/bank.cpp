#include "jkbms/domain/bank.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace jkbms::domain {

namespace {

bool counts(const BankMember& m) { return m.comms == CommsState::Ok || m.comms == CommsState::Stale; }

// Limits are published to 0.1 A; a combined limit is rounded down, never up.
double floorTenth(double a) { return std::floor(a * 10.0 + 1e-9) / 10.0; }

std::string amps(double a) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f A", a);
    return buf;
}

std::string percent(double share) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.0f%%", share * 100.0);
    return buf;
}

std::string joinNames(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

// The shares of one direction (charging: +1, discharging: -1). A share is measured only for a
// pack that itself carries at least rules.shareCurrentA that way with its FET on, and only
// while every pack answers with a current: a pack near 0 A (nearly full, back-feeding, its FET
// off, or read at another moment than the others) may take much more once the current rises,
// so it gets the worst share (1).
struct Shares {
    std::vector<std::optional<double>> of;  // per member; absent: the worst share
    std::vector<std::string> whyNot;        // per member, when absent
    double total = 0;                       // the current flowing this way, A
    bool any = false;                       // at least one share measured
};

Shares measureShares(const std::vector<BankMember>& members, double sign, const BankRules& rules) {
    Shares s;
    s.of.assign(members.size(), std::nullopt);
    s.whyNot.assign(members.size(), std::string{});
    std::vector<std::string> silent;
    for (const auto& m : members)
        if (m.comms != CommsState::Ok) silent.push_back(m.name);
    std::string common;
    if (!silent.empty()) common = joinNames(silent) + " not answering";
    for (const auto& m : members)
        if (common.empty() && !m.currentA) common = m.name + " current unknown";
    if (!common.empty()) {
        s.whyNot.assign(members.size(), common);
        return s;
    }
    for (const auto& m : members) s.total += std::max(0.0, sign * *m.currentA);
    for (std::size_t i = 0; i < members.size(); ++i) {
        const BankMember& m = members[i];
        const double flow = sign * *m.currentA;
        const std::optional<bool>& allowed = sign > 0 ? m.allowToCharge : m.allowToDischarge;
        if (allowed == false) s.whyNot[i] = "switched off";
        else if (!(flow >= rules.shareCurrentA)) s.whyNot[i] = "under " + amps(rules.shareCurrentA);
        else {
            s.of[i] = flow / s.total;
            s.any = true;
        }
    }
    return s;
}

// CCL (charge) or DCL of the bank.
BankLimit currentLimit(const std::vector<BankMember>& members, const Shares& shares, bool charge,
                       const BankRules& rules) {
    const char* what = charge ? "CCL" : "DCL";
    BankLimit out;
    bool any = false;
    double lowestOwn = 0;
    for (std::size_t i = 0; i < members.size(); ++i) {
        const BankMember& m = members[i];
        if (charge && m.comms == CommsState::Lost) {
            // Maybe still on the DC bus, its limits unknown: no charging until it is back (its
            // last CCL may have been 0). Discharging goes on from the others at their worst share.
            out.value = 0.0;
            out.reason = m.name + " not answering: its limits unknown";
            return out;
        }
        if (!counts(m)) continue;
        if (charge && m.ownBms) {
            out.value = 0.0;
            out.reason = m.name + " publishes /Info/MaxChargeVoltage itself (not a bank member)";
            return out;
        }
        const std::optional<double>& own = charge ? m.cclA : m.dclA;
        if (!own || !std::isfinite(*own) || *own <= 0) {
            // A pack that allows nothing (or has not decided yet) stops the bank at once.
            out.value = 0.0;
            out.reason = m.name + " " + what + (own ? " 0 A" : " unknown");
            return out;
        }
        lowestOwn = any ? std::min(lowestOwn, *own) : *own;
        any = true;
        double share = 1.0;
        if (shares.of[i]) share = std::min(1.0, *shares.of[i] * (1.0 + rules.shareMargin) + rules.shareFloor);
        const double allowed = *own / share;
        if (!out.value || allowed < *out.value) {
            out.value = allowed;
            out.reason = m.name + " " + what + " " + amps(*own) + ", " +
                         (shares.of[i] ? percent(*shares.of[i]) + " share" : "worst share (" + shares.whyNot[i] + ")");
        }
    }
    if (!any) {
        out.reason = "no pack answering";
        return out;
    }
    // Shares measured at one current hold near it only: the bank may go at most shareStretch
    // times past the current flowing now (never below what the weakest pack allows alone).
    const double stretch = std::max(lowestOwn, rules.shareStretch * shares.total);
    if (shares.any && *out.value > stretch) {
        out.value = stretch;
        out.reason = "shares measured at " + amps(shares.total) + ": at most " + amps(stretch);
    }
    out.value = floorTenth(*out.value);
    return out;
}

std::string modes(const std::vector<BankMember>& members) {
    std::string first;
    bool same = true;
    bool seen = false;
    for (const auto& m : members) {
        if (!counts(m)) continue;
        if (!seen) first = m.chargeMode, seen = true;
        else if (m.chargeMode != first) same = false;
    }
    if (same) return first;
    std::string out;
    for (const auto& m : members)
        if (counts(m)) out += (out.empty() ? "" : ", ") + m.name + " " + (m.chargeMode.empty() ? "-" : m.chargeMode);
    return out;
}

}  // namespace

std::string bankId(std::string_view member, std::string_view id) {
    if (id.empty()) return {};
    std::string out{member};
    out += '/';
    out += id;
    return out;
}

BankLimits combineLimits(const std::vector<BankMember>& members, const BankRules& rules) {
    BankLimits out;
    const Shares charging = measureShares(members, +1.0, rules);
    const Shares discharging = measureShares(members, -1.0, rules);
    out.chargeShares = charging.of;
    out.dischargeShares = discharging.of;

    bool any = false, anyLimit = false;
    for (const auto& m : members) {
        if (!counts(m)) continue;
        any = true;
        if (m.cvlV || m.cclA || m.dclA) anyLimit = true;
        if (m.cvlV && std::isfinite(*m.cvlV) && (!out.cvl.value || *m.cvlV < *out.cvl.value)) {
            out.cvl.value = m.cvlV;
            out.cvl.reason = m.name + " CVL";
        }
        if (m.lowVoltageV && (!out.lowVoltageV || *m.lowVoltageV > *out.lowVoltageV)) out.lowVoltageV = m.lowVoltageV;
        if (m.chargeRequest) out.chargeRequest = out.chargeRequest.value_or(false) || *m.chargeRequest;
    }
    if (!any) {
        out.cvl.reason = out.ccl.reason = out.dcl.reason = "no pack answering";
        return out;
    }
    if (!anyLimit) {
        // No pack has a charge engine (charge.enabled false): no limits, as for one battery.
        out.cvl.reason = out.ccl.reason = out.dcl.reason = "no limits from the packs";
        return out;
    }
    out.ccl = currentLimit(members, charging, true, rules);
    out.dcl = currentLimit(members, discharging, false, rules);
    return out;
}

BankReading combineBank(const std::vector<BankMember>& members, const BankRules& rules) {
    BankReading r;
    r.packs = static_cast<std::int32_t>(members.size());
    bool anyStale = false, allOff = !members.empty();
    std::vector<const BankMember*> in;  // the members that count
    for (const auto& m : members) {
        if (m.comms == CommsState::Ok) ++r.online;
        else r.silent.push_back(m.name);
        if (m.comms == CommsState::Stale) anyStale = true;
        if (m.comms == CommsState::Stale || m.comms == CommsState::Lost) r.commsFault = true;
        if (m.comms != CommsState::Off) allOff = false;
        if (counts(m)) in.push_back(&m);
    }
    r.offline = r.packs - r.online;
    r.comms = r.online > 0 ? CommsState::Ok : anyStale ? CommsState::Stale : allOff ? CommsState::Off : CommsState::Lost;
    r.limits = combineLimits(members, rules);
    if (members.empty()) r.status = "no packs";
    else if (r.silent.empty()) r.status = std::to_string(r.packs) + (r.packs == 1 ? " pack" : " packs") + " answering";
    else
        r.status = std::to_string(r.online) + " of " + std::to_string(r.packs) + " answering: " + joinNames(r.silent) +
                   " silent";
    if (in.empty()) return r;

    // A sum over the packs that count, absent when one of them lacks the value.
    auto sum = [&in](auto field) -> std::optional<double> {
        double total = 0;
        for (const auto* m : in) {
            const std::optional<double>& v = m->*field;
            if (!v) return std::nullopt;
            total += *v;
        }
        return total;
    };
    r.currentA = sum(&BankMember::currentA);
    r.powerW = sum(&BankMember::powerW);
    r.installedCapacityAh = sum(&BankMember::installedCapacityAh);
    r.capacityAh = sum(&BankMember::capacityAh);
    r.consumedAh = sum(&BankMember::consumedAh);

    double vSum = 0;
    int vCount = 0;
    for (const auto* m : in)
        if (m->voltageV) vSum += *m->voltageV, ++vCount;
    if (vCount > 0) r.voltageV = vSum / vCount;

    // SoC and SoH weighted by installed capacity (each pack's own when all have one).
    auto weighted = [&in](auto field) -> std::optional<double> {
        bool byCapacity = true;
        for (const auto* m : in)
            if ((m->*field) && !(m->installedCapacityAh && *m->installedCapacityAh > 0)) byCapacity = false;
        double num = 0, den = 0;
        for (const auto* m : in) {
            const std::optional<double>& v = m->*field;
            if (!v) continue;
            const double w = byCapacity ? *m->installedCapacityAh : 1.0;
            num += *v * w;
            den += w;
        }
        if (den <= 0) return std::nullopt;
        return num / den;
    };
    r.socPercent = weighted(&BankMember::socPercent);
    r.sohPercent = weighted(&BankMember::sohPercent);

    bool sameCells = true;
    for (const auto* m : in) {
        if (m->temperatureC && (!r.temperatureC || *m->temperatureC > *r.temperatureC)) r.temperatureC = m->temperatureC;
        if (m->minCellV && (!r.minCellV || *m->minCellV < *r.minCellV)) {
            r.minCellV = m->minCellV;
            r.minCellId = bankId(m->name, m->minCellId);
        }
        if (m->maxCellV && (!r.maxCellV || *m->maxCellV > *r.maxCellV)) {
            r.maxCellV = m->maxCellV;
            r.maxCellId = bankId(m->name, m->maxCellId);
        }
        if (m->minCellTemperatureC && (!r.minCellTemperatureC || *m->minCellTemperatureC < *r.minCellTemperatureC)) {
            r.minCellTemperatureC = m->minCellTemperatureC;
            r.minTemperatureId = bankId(m->name, m->minTemperatureId);
        }
        if (m->maxCellTemperatureC && (!r.maxCellTemperatureC || *m->maxCellTemperatureC > *r.maxCellTemperatureC)) {
            r.maxCellTemperatureC = m->maxCellTemperatureC;
            r.maxTemperatureId = bankId(m->name, m->maxTemperatureId);
        }
        if (!m->cellsPerBattery || (r.cellsPerBattery && *r.cellsPerBattery != *m->cellsPerBattery)) sameCells = false;
        else r.cellsPerBattery = m->cellsPerBattery;
        if (m->allowToCharge == false) ++r.blockingCharge;
        if (m->allowToDischarge == false) ++r.blockingDischarge;
        auto any = [](std::optional<bool>& acc, const std::optional<bool>& v) {
            if (v) acc = acc.value_or(false) || *v;
        };
        any(r.allowToCharge, m->allowToCharge);
        any(r.allowToDischarge, m->allowToDischarge);
        any(r.allowToBalance, m->allowToBalance);
        any(r.balancing, m->balancing);
        if (m->chargeCycles && (!r.chargeCycles || *m->chargeCycles > *r.chargeCycles)) r.chargeCycles = m->chargeCycles;
        for (std::size_t a = 0; a < r.alarms.size(); ++a)
            if (m->alarms[a] && (!r.alarms[a] || *m->alarms[a] > *r.alarms[a])) r.alarms[a] = m->alarms[a];
    }
    if (!sameCells) r.cellsPerBattery.reset();
    // The bank lets current through only when its own limit does too.
    if (r.allowToCharge && r.limits.ccl.value && *r.limits.ccl.value <= 0) r.allowToCharge = false;
    if (r.allowToDischarge && r.limits.dcl.value && *r.limits.dcl.value <= 0) r.allowToDischarge = false;
    r.chargeMode = modes(members);
    return r;
}

}  // namespace jkbms::domain
