// The 55 AA frame merger (BLE, JK-PB) and what follows it in the daemon: frames cut from the
// input - as they come, and "sealed" (header and sum8 fixed, so the decoders behind the
// checksum are reached) - merged into one snapshot with the plausibility check after every
// frame, then the D-Bus path table updated from the final snapshot. The table lives across
// inputs, as the daemon's lives across polls: each input is one more poll updating it in place
// (slots kept, fewer cells invalidating the extra paths). Building a fresh table per input cost
// ~45% of the time in interning ~110 paths (~750 exec/s) and fuzzed only the first poll.

#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "jkbms/codec/ble.hpp"
#include "jkbms/codec/checksum.hpp"
#include "jkbms/dbus/battery_paths.hpp"
#include "jkbms/domain/plausible_ranges.hpp"
#include "jkbms/domain/snapshot_mapping.hpp"

using namespace jkbms;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    const bool pb = in.ConsumeBool();
    domain::JkFrameMerger merger(pb ? domain::Protocol::Pb : domain::Protocol::Ble, pb && in.ConsumeBool());
    std::optional<domain::BatterySnapshot> snapshot;
    static dbus::PathTable table;
    static const dbus::ServiceIdentity identity;
    while (in.remaining_bytes() > 0) {
        const bool seal = in.ConsumeBool();
        const bool reset = in.ConsumeIntegralInRange<int>(0, 31) == 0;
        const auto type = in.ConsumeIntegralInRange<std::uint8_t>(1, 5);
        const std::size_t length = in.ConsumeIntegralInRange<std::size_t>(0, 320);
        std::vector<std::uint8_t> frame = in.ConsumeBytes<std::uint8_t>(length);
        if (seal) {
            frame.resize(codec::ble::kFrameSize, 0);
            std::copy(codec::ble::kFrameHeader.begin(), codec::ble::kFrameHeader.end(), frame.begin());
            frame[4] = type;
            frame[299] = codec::sum8(util::ByteView{frame}.first(299));
        }
        if (reset) merger.reset();
        const auto merged = merger.merge(snapshot, frame);
        if (merged.applied && !snapshot) std::abort();
        if (merged.deviceInfo && merged.type != codec::ble::FrameType::DeviceInfo) std::abort();
        if (!snapshot) continue;
        (void)snapshot->cellStats();
        for (const auto& bad : domain::outOfRangeValues(*snapshot)) (void)bad.text();
    }
    if (!snapshot) return 0;
    dbus::batteryPaths(identity, snapshot, {}, domain::CommsState::Ok, table);
    // Nothing implausible is published as a number.
    for (const auto& [path, item] : table) {
        if (const auto* d = std::get_if<double>(&item.value); d && !std::isfinite(*d)) std::abort();
        if (path == "/Soc")
            if (const auto* d = std::get_if<double>(&item.value); d && (*d < 0 || *d > 100)) std::abort();
        if (path.starts_with("/Voltages/Cell"))
            if (const auto* d = std::get_if<double>(&item.value); d && (*d < 0 || *d > 5)) std::abort();
    }
    return 0;
}
