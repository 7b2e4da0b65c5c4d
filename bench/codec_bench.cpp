// Cost of decoding each JK frame type, of the framers per frame, and of mapping to a
// BatterySnapshot. Frames are built here (the same builders the tests use), so the benchmark
// needs no captures. Run: build/release/bench/codec_bench
//
// Goal (issue 2): < 2 us per decoded frame on the development machine.

#include <benchmark/benchmark.h>

#include "jkbms/codec/ble.hpp"
#include "jkbms/codec/nw.hpp"
#include "jkbms/codec/pb_modbus.hpp"
#include "jkbms/domain/snapshot_mapping.hpp"
#include "support/frame_builders.hpp"

namespace {

using namespace jkbms;
namespace nw = codec::nw;
namespace ble = codec::ble;
namespace pb = codec::pb;

// A realistic 16-cell NW read-all reply with every id a JK-B2A24S sends (~290 bytes).
std::vector<std::uint8_t> nwReply16() {
    test::NwReply r;
    r.cells({3301, 3302, 3303, 3304, 3305, 3306, 3307, 3308, 3309, 3310, 3311, 3312, 3313, 3314, 3315, 3316});
    for (std::uint8_t id = 0x80; id <= 0xC0; ++id) {
        const auto info = nw::idInfo(id);
        if (!info || id == 0xBB || id == 0xBC || id == 0xBE || id == 0xBF) continue;
        if (info->kind == nw::ValueKind::Ascii) r.text(id, "JK_B2A24S15P");
        else r.value(id, id == nw::id::kProtocolVersion ? 1 : 1000U % (1U << (8 * info->length)));
    }
    return r.frame();
}

std::vector<std::uint8_t> cellInfo(ble::Variant v) {
    test::JkFrame f(ble::FrameType::CellInfo);
    if (v == ble::Variant::Jk04) {
        for (std::size_t i = 0; i < 16; ++i) f.f32(6 + 4 * i, 3.3F);
        return f.frame();
    }
    const std::size_t s = v == ble::Variant::Jk02_32S ? 16 : 0;
    for (std::size_t i = 0; i < 16; ++i) f.u16(6 + 2 * i, static_cast<std::uint16_t>(3300 + i));
    f.u32(54 + s, 0xFFFF).u32(118 + 2 * s, 52920).i32(126 + 2 * s, -12000);
    return f.frame();
}

void BM_NwDecodeReadAll(benchmark::State& state) {
    const auto frame = nwReply16();
    for (auto _ : state) benchmark::DoNotOptimize(nw::decodeReadAll(frame));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame.size()));
}
BENCHMARK(BM_NwDecodeReadAll);

void BM_NwFramerPerFrame(benchmark::State& state) {
    const auto frame = nwReply16();
    nw::Framer framer;
    for (auto _ : state) {
        framer.push(frame);
        benchmark::DoNotOptimize(framer.next());
    }
}
BENCHMARK(BM_NwFramerPerFrame);

void BM_NwToSnapshot(benchmark::State& state) {
    const auto reply = nw::decodeReadAll(nwReply16()).value();
    for (auto _ : state) benchmark::DoNotOptimize(domain::fromNw(reply));
}
BENCHMARK(BM_NwToSnapshot);

void BM_BleDecodeCellInfo(benchmark::State& state) {
    const auto v = static_cast<ble::Variant>(state.range(0));
    const auto frame = cellInfo(v);
    state.SetLabel(std::string{ble::variantName(v)});
    for (auto _ : state) benchmark::DoNotOptimize(ble::decodeCellInfo(frame, v));
}
BENCHMARK(BM_BleDecodeCellInfo)
    ->Arg(static_cast<int>(ble::Variant::Jk02_24S))
    ->Arg(static_cast<int>(ble::Variant::Jk02_32S))
    ->Arg(static_cast<int>(ble::Variant::Jk04));

void BM_BleDetectVariant(benchmark::State& state) {
    const auto frame = cellInfo(ble::Variant::Jk02_32S);
    for (auto _ : state) benchmark::DoNotOptimize(ble::detectCellInfoVariant(frame));
}
BENCHMARK(BM_BleDetectVariant);

void BM_BleDecodeSettings(benchmark::State& state) {
    test::JkFrame f(ble::FrameType::Settings);
    f.u32(18, 3650);
    const auto frame = f.frame();
    for (auto _ : state) benchmark::DoNotOptimize(ble::decodeSettings(frame, ble::Variant::Jk02_32S));
}
BENCHMARK(BM_BleDecodeSettings);

void BM_BleDecodeDeviceInfo(benchmark::State& state) {
    test::JkFrame f(ble::FrameType::DeviceInfo);
    f.text(6, "JK_PB2A16S15P").text(22, "15A").text(30, "15.38").text(86, "3121348008512345");
    const auto frame = f.frame();
    for (auto _ : state) benchmark::DoNotOptimize(ble::decodeDeviceInfo(frame));
}
BENCHMARK(BM_BleDecodeDeviceInfo);

void BM_BleAssemblerPerFrame(benchmark::State& state) {
    const auto frame = cellInfo(ble::Variant::Jk02_32S);
    ble::Assembler a;
    for (auto _ : state) {
        for (std::size_t i = 0; i < frame.size(); i += 20)
            benchmark::DoNotOptimize(a.feed(util::ByteView{frame}.subspan(i, 20)));
    }
}
BENCHMARK(BM_BleAssemblerPerFrame);

void BM_BleCellInfoToSnapshot(benchmark::State& state) {
    const auto ci = ble::decodeCellInfo(cellInfo(ble::Variant::Jk02_32S), ble::Variant::Jk02_32S).value();
    domain::BatterySnapshot s;
    for (auto _ : state) {
        domain::applyCellInfo(s, ci);
        benchmark::DoNotOptimize(s);
    }
}
BENCHMARK(BM_BleCellInfoToSnapshot);

void BM_PbBusFramerPerAnswer(benchmark::State& state) {
    const auto trigger = pb::encodeTrigger(1, pb::Trigger::CellInfo);
    auto stream = test::concat({{trigger.begin(), trigger.end()}, cellInfo(ble::Variant::Jk02_32S),
                                {0x01, 0x10, 0x16, 0x20, 0x00, 0x01, 0x04, 0x4B}});
    pb::BusFramer framer;
    for (auto _ : state) {
        framer.push(stream);
        benchmark::DoNotOptimize(framer.next());  // the echoed trigger
        benchmark::DoNotOptimize(framer.next());  // the frame with its ACK
    }
}
BENCHMARK(BM_PbBusFramerPerAnswer);

void BM_PbEncodeTrigger(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(pb::encodeTrigger(7, pb::Trigger::CellInfo));
}
BENCHMARK(BM_PbEncodeTrigger);

}  // namespace

BENCHMARK_MAIN();
