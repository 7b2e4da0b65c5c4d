// Every captured frame in shared/vectors, decoded through `jkbms decode`'s JSON, compared with
// each field of the capture's `expected` block within the spec's tolerances (section 6:
// V/A/Ah +-0.001, C +-0.1, JK04 float cells +-0.0001). The directory is
// JKBMS_VECTORS_DIR when set, else ../shared/vectors beside the repository; when it is absent
// the test says so and skips. The files are read in place, never copied.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "jkbms/cli/frame_json.hpp"
#include "jkbms/codec/pb_modbus.hpp"
#include "jkbms/domain/snapshot_mapping.hpp"
#include "jkbms/util/hex.hpp"

namespace jkbms::cli {
namespace {

namespace fs = std::filesystem;

fs::path vectorsDir() {
    if (const char* env = std::getenv("JKBMS_VECTORS_DIR"); env && *env) return env;
    return JKBMS_DEFAULT_VECTORS_DIR;
}

std::vector<std::string> vectorFiles() {
    std::vector<std::string> out;
    std::error_code ec;
    if (!fs::is_directory(vectorsDir(), ec)) return out;
    for (const auto& e : fs::directory_iterator(vectorsDir(), ec))
        if (e.path().extension() == ".yaml") out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::optional<Protocol> protocolOf(const std::string& name) {
    if (name.starts_with("jk_nw_uart")) return Protocol::Nw;
    if (name.starts_with("jk_ble")) return Protocol::Ble;
    if (name.starts_with("jk_pb")) return Protocol::Pb;
    return std::nullopt;
}

double toleranceFor(const std::string& path, bool jk04) {
    auto endsWith = [&path](std::string_view s) { return path.ends_with(s); };
    if (path.find("temperatures.") != std::string::npos || endsWith("_c")) return 0.1;
    if (path.find("power") != std::string::npos) return 0.01;  // W, rounded to 10 mW in NW captures
    if (jk04) return 0.0001;
    return 0.001;
}

struct Comparison {
    bool jk04 = false;
    std::vector<std::string> failures;

    void fail(const std::string& path, const std::string& what) {
        failures.push_back(path + ": " + what);
    }

    void compare(const YAML::Node& expected, const Json& actual, const std::string& path) {
        if (expected.IsMap()) {
            if (actual.kind() != Json::Kind::Object) return fail(path, "expected an object");
            for (const auto& kv : expected) {
                const std::string key = kv.first.as<std::string>();
                if (key == "note") continue;  // prose, not a decoded field
                const std::string sub = path.empty() ? key : path + "." + key;
                const Json* field = actual.find(key);
                if (!field) {
                    fail(sub, "missing from the decoder's output");
                    continue;
                }
                compare(kv.second, *field, sub);
            }
            return;
        }
        if (expected.IsSequence()) {
            if (actual.kind() != Json::Kind::Array) return fail(path, "expected a list");
            if (actual.size() != expected.size())
                return fail(path, "expected " + std::to_string(expected.size()) + " items, got " +
                                      std::to_string(actual.size()));
            for (std::size_t i = 0; i < expected.size(); ++i)
                compare(expected[i], actual.at(i), path + "[" + std::to_string(i) + "]");
            return;
        }
        if (expected.IsNull()) {
            if (actual.kind() != Json::Kind::Null) fail(path, "expected null, got " + actual.dump());
            return;
        }
        compareScalar(expected, actual, path);
    }

    void compareScalar(const YAML::Node& expected, const Json& actual, const std::string& path) {
        const std::string text = expected.Scalar();
        const bool quoted = expected.Tag() == "!";
        if (!quoted && (text == "true" || text == "false")) {
            if (actual.kind() != Json::Kind::Bool || actual.asBool() != (text == "true"))
                fail(path, "expected " + text + ", got " + actual.dump());
            return;
        }
        if (quoted || actual.kind() == Json::Kind::String) {
            if (actual.kind() != Json::Kind::String)
                return fail(path, "expected string '" + text + "', got " + actual.dump());
            if (text.starts_with("0x") && actual.asString().starts_with("0x")) {
                if (std::stoull(text, nullptr, 16) != std::stoull(actual.asString(), nullptr, 16))
                    fail(path, "expected " + text + ", got " + actual.asString());
                return;
            }
            if (actual.asString() != text)
                fail(path, "expected '" + text + "', got '" + actual.asString() + "'");
            return;
        }
        double want = 0;
        try {
            want = expected.as<double>();
        } catch (const YAML::Exception&) {
            return fail(path, "unreadable expected value '" + text + "'");
        }
        if (!actual.isNumber()) return fail(path, "expected " + text + ", got " + actual.dump());
        const double tol = toleranceFor(path, jk04);
        if (std::fabs(actual.asDouble() - want) > tol + 1e-9)
            fail(path, "expected " + text + " +-" + std::to_string(tol) + ", got " + actual.dump());
    }
};

class SharedVector : public testing::TestWithParam<std::string> {};

TEST_P(SharedVector, DecodesEveryExpectedField) {
    const fs::path file = vectorsDir() / GetParam();
    const YAML::Node doc = YAML::LoadFile(file.string());
    const std::string protocolName = doc["protocol"].as<std::string>();
    const auto protocol = protocolOf(protocolName);
    ASSERT_TRUE(protocol) << "unknown protocol " << protocolName;
    auto bytes = util::parseHex(doc["hex"].as<std::string>());
    ASSERT_TRUE(bytes) << util::describe(bytes.error());
    if (doc["length"]) {
        EXPECT_EQ(bytes->size(), doc["length"].as<std::size_t>());
    }

    // Detection must pick the capture's protocol by itself.
    EXPECT_EQ(detectProtocol(*bytes), protocol) << "protocol detection";

    auto json = decodeToJson(*bytes, DecodeOptions{});
    ASSERT_TRUE(json) << util::describe(json.error());
    Comparison cmp;
    cmp.jk04 = doc["variant"] && !doc["variant"].IsNull() && doc["variant"].as<std::string>() == "JK04";
    cmp.compare(doc["expected"], *json, "");
    for (const std::string& f : cmp.failures) ADD_FAILURE() << GetParam() << ": " << f;
    if (!cmp.failures.empty()) std::cerr << "decoded: " << json->dump(2) << '\n';
}

// The same captures through the domain mapping: the snapshot the daemon will publish must
// carry the capture's cells, pack voltage, current, SoC and a power with the current's sign.
std::optional<domain::BatterySnapshot> snapshotOf(const std::string& protocol,
                                                  const std::vector<std::uint8_t>& bytes) {
    if (protocol == "jk_nw_uart") {
        auto r = codec::nw::decodeReadAll(bytes);
        if (!r) return std::nullopt;
        return domain::fromNw(*r);
    }
    util::ByteView frame = bytes;
    if (protocol == "jk_pb_rs485") {
        codec::pb::BusFramer framer;
        framer.push(bytes);
        const auto ev = framer.next();
        if (ev.kind != codec::pb::BusEvent::Kind::JkFrame) return std::nullopt;
        frame = util::ByteView{bytes}.subspan(ev.skippedBytes, codec::ble::kFrameSize);
    }
    auto header = codec::ble::checkFrame(frame);
    if (!header || header->type != static_cast<std::uint8_t>(codec::ble::FrameType::CellInfo))
        return std::nullopt;
    auto ci = codec::ble::decodeCellInfo(frame, codec::ble::detectCellInfoVariant(frame));
    if (!ci) return std::nullopt;
    domain::BatterySnapshot s;
    domain::applyCellInfo(s, *ci);
    return s;
}

// Captures that carry cell voltages (NW read-all, cell-info frames).
std::vector<std::string> measurementFiles() {
    std::vector<std::string> out;
    for (const std::string& f : vectorFiles())
        if (YAML::LoadFile((vectorsDir() / f).string())["expected"]["cell_voltages"]) out.push_back(f);
    return out;
}

class MeasurementVector : public testing::TestWithParam<std::string> {};

TEST_P(MeasurementVector, MapsToTheSnapshot) {
    const YAML::Node doc = YAML::LoadFile((vectorsDir() / GetParam()).string());
    const YAML::Node e = doc["expected"];
    auto bytes = util::parseHex(doc["hex"].as<std::string>());
    ASSERT_TRUE(bytes);
    auto s = snapshotOf(doc["protocol"].as<std::string>(), *bytes);
    ASSERT_TRUE(s) << "no snapshot from a measurement frame";
    const double cellTol = e["variant"] && e["variant"].as<std::string>() == "JK04" ? 1e-4 : 1e-3;
    ASSERT_EQ(s->cellVoltagesV.size(), e["cell_voltages"].size());
    for (std::size_t i = 0; i < s->cellVoltagesV.size(); ++i)
        EXPECT_NEAR(s->cellVoltagesV[i], e["cell_voltages"][i].as<double>(), cellTol) << i;
    ASSERT_TRUE(s->packVoltageV);
    EXPECT_NEAR(*s->packVoltageV, e["total_voltage"].as<double>(), 1e-3);
    if (e["current"]) {
        ASSERT_TRUE(s->currentA);
        EXPECT_NEAR(*s->currentA, e["current"].as<double>(), 1e-3);
        ASSERT_TRUE(s->powerW);
        EXPECT_NEAR(*s->powerW, e["power"].as<double>(), 0.01);
        EXPECT_EQ(*s->powerW < 0, *s->currentA < 0);
        EXPECT_NEAR(*s->socPercent, e["soc"].as<double>(), 1e-9);
        EXPECT_TRUE(s->alarmsReported);
    } else {
        EXPECT_FALSE(s->currentA) << "JK04 reports no current";
        EXPECT_FALSE(s->alarmsReported);
    }
    auto stats = s->cellStats();
    ASSERT_TRUE(stats);
    if (e["cell_min"]) {
        EXPECT_NEAR(stats->minV, e["cell_min"].as<double>(), cellTol);
        EXPECT_NEAR(stats->maxV, e["cell_max"].as<double>(), cellTol);
    }
}

std::string testName(const testing::TestParamInfo<std::string>& info) {
    std::string name = fs::path(info.param).stem().string();
    std::replace_if(name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
    return name;
}

INSTANTIATE_TEST_SUITE_P(Captures, SharedVector, testing::ValuesIn(vectorFiles()), testName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SharedVector);
INSTANTIATE_TEST_SUITE_P(Captures, MeasurementVector, testing::ValuesIn(measurementFiles()), testName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MeasurementVector);

// Issue 14 item 13: the settings-frame variant rule (byte 287) on every settings capture.
TEST(SharedVectors, SettingsVariantRuleHoldsOnEveryCapture) {
    std::size_t checked = 0;
    for (const auto& name : vectorFiles()) {
        const YAML::Node doc = YAML::LoadFile((vectorsDir() / name).string());
        auto bytes = util::parseHex(doc["hex"].as<std::string>());
        if (!bytes || !doc["variant"] || doc["variant"].IsNull()) continue;
        const auto at = std::search(bytes->begin(), bytes->end(), codec::ble::kFrameHeader.begin(), codec::ble::kFrameHeader.end());
        if (static_cast<std::size_t>(bytes->end() - at) < codec::ble::kFrameSize || at[4] != 0x01) continue;
        const util::ByteView frame{&*at, codec::ble::kFrameSize};
        EXPECT_EQ(codec::ble::detectSettingsVariant(frame), codec::ble::parseVariant(doc["variant"].as<std::string>()))
            << name << ": byte 287 = " << int{frame[287]};
        ++checked;
    }
    if (checked == 0) GTEST_SKIP() << "no settings captures in " << vectorsDir();
}

// Issue 14 items 12 and 14: the captures inside real byte streams - after a BLE module's
// "AT\r\n", after the JK-PB trigger that asked for them, two back to back - decode to the
// same frames as alone.
TEST(SharedVectors, CapturesInsideStreamsDecodeTheSame) {
    std::size_t checked = 0;
    for (const auto& name : vectorFiles()) {
        const YAML::Node doc = YAML::LoadFile((vectorsDir() / name).string());
        const auto protocol = protocolOf(doc["protocol"].as<std::string>());
        auto bytes = util::parseHex(doc["hex"].as<std::string>());
        if (!bytes || !protocol) continue;
        auto alone = decodeToJson(*bytes, DecodeOptions{});
        ASSERT_TRUE(alone) << name;
        std::vector<std::uint8_t> prefix;
        if (*protocol == Protocol::Pb && bytes->size() >= codec::ble::kFrameSize) {
            const auto ack = util::ByteView{*bytes}.last(8);  // address 10 RR RR 00 01 CRC
            const auto trigger = bytes->size() >= codec::ble::kFrameSize + 8
                                     ? codec::pb::encodeTrigger(ack[0], static_cast<codec::pb::Trigger>((ack[2] << 8) | ack[3]))
                                     : codec::pb::encodeTrigger(1, codec::pb::Trigger::CellInfo);
            prefix.assign(trigger.begin(), trigger.end());
        } else {
            prefix = {'A', 'T', '\r', '\n'};
        }
        std::vector<std::uint8_t> stream = prefix;
        stream.insert(stream.end(), bytes->begin(), bytes->end());
        stream.insert(stream.end(), bytes->begin(), bytes->end());  // and again, back to back
        const auto s = decodeStream(stream, DecodeOptions{});
        std::vector<const Json*> frames;
        for (const auto& part : s.parts)
            if (part.frame && !(part.offset == 0 && *protocol == Protocol::Pb && prefix.size() == 11)) frames.push_back(&*part.frame);
        ASSERT_GE(frames.size(), 2U) << name << ": " << s.toJson(stream).dump(-1);
        EXPECT_EQ(frames[0]->dump(-1), alone->dump(-1)) << name;
        EXPECT_EQ(frames[1]->dump(-1), alone->dump(-1)) << name;
        ++checked;
    }
    if (checked == 0) GTEST_SKIP() << "no captures in " << vectorsDir();
}

TEST(SharedVectors, DirectoryIsPresent) {
    if (vectorFiles().empty())
        GTEST_SKIP() << "no vectors in " << vectorsDir()
                     << " (set JKBMS_VECTORS_DIR to the shared/vectors directory)";
    EXPECT_GE(vectorFiles().size(), 1U);
}

}  // namespace
}  // namespace jkbms::cli
