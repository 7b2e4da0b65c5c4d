// BLE 55 AA frames: the notification assembler in 20-byte chunks, every decoder and variant
// on the input, and on the input sealed with the header and a valid sum8 at 299 so the
// fuzzer reaches the field decoders.

#include <algorithm>
#include <array>
#include <cstdint>

#include "jkbms/codec/ble.hpp"
#include "jkbms/codec/checksum.hpp"
#include "jkbms/domain/snapshot_mapping.hpp"

using namespace jkbms;
namespace ble = codec::ble;

namespace {

void decodeAll(util::ByteView frame) {
    domain::BatterySnapshot s;
    for (ble::Variant v : {ble::Variant::Jk02_24S, ble::Variant::Jk02_32S, ble::Variant::Jk04}) {
        if (auto ci = ble::decodeCellInfo(frame, v)) domain::applyCellInfo(s, *ci);
        if (auto st = ble::decodeSettings(frame, v)) domain::applySettings(s, *st);
    }
    if (auto st = ble::decodeJk04Settings(frame)) domain::applyJk04Settings(s, *st);
    if (auto di = ble::decodeDeviceInfo(frame)) domain::applyDeviceInfo(s, *di);
    (void)ble::decodeLogbook(frame);
    (void)ble::detectCellInfoVariant(frame);
    (void)ble::detectSettingsVariant(frame);
    (void)ble::decodeCommand(frame);
    (void)s.cellStats();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const util::ByteView input{data, size};
    ble::Assembler assembler;
    for (std::size_t pos = 0; pos < size; pos += 20) {
        auto ev = assembler.feed(input.subspan(pos, std::min<std::size_t>(20, size - pos)));
        if (ev.status == codec::FramerStatus::Frame) decodeAll(ev.frame);
    }
    decodeAll(input);

    std::array<std::uint8_t, ble::kFrameSize> sealed{};
    std::copy_n(data, std::min(size, sealed.size()), sealed.begin());
    std::copy(ble::kFrameHeader.begin(), ble::kFrameHeader.end(), sealed.begin());
    sealed[4] = size > 0 ? static_cast<std::uint8_t>(1 + data[0] % 5) : 2;
    sealed[299] = codec::sum8(util::ByteView{sealed}.first(299));
    decodeAll(sealed);
    return 0;
}
