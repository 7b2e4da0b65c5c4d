#pragma once
// BatteryKey: which battery a BMS is, from what the BMS says about itself, so the device
// instance, /CustomName and the saved charge state follow the battery and not the port it
// happens to be plugged into. Pure: the text fields are untrusted BMS bytes.
//
//   NW (jk-protocols.md 1.4): the device id / "user private data" 0xB4 (8 ASCII bytes), set
//       with JK's tool, prefixed by the manufacturer id 0xBA (24 ASCII bytes) when that is
//       not a factory default. 0xBA alone is never a key: it is not unique (two different
//       boards in tests/vectors both report "BT3072020120000200521001"), and 0xB4 at its
//       default ("Input Us", empty, one repeated character) gives no key at all.
//   JK-PB, BLE (jk-protocols.md 2.x device-info frame, offset 86): the serial number; an empty
//       one, or one of a single repeated character ("0000", 0xFF filler), is none.
//
// Each field is cleaned before use (cleanField): valid UTF-8, control characters and NULs
// dropped, blanks trimmed, at most kMaxFieldBytes. The key (`uid`) is the settings element
// "jkbms_<kind><text>" with everything but [A-Za-z0-9_] turned into '_' (a D-Bus object path
// element, victron-dbus.md 4.1), at most kMaxUidBytes. Two ids that differ only in such
// characters get the same key.

#include <optional>
#include <string>
#include <string_view>

namespace jkbms::domain {

inline constexpr std::size_t kMaxFieldBytes = 32;
inline constexpr std::size_t kMaxUidBytes = 64;

struct BatteryKey {
    std::string uid;    // "jkbms_nw_...", "jkbms_<serial>", or the fallback "jkbms_<port>"
    std::string label;  // for people: "serial SIM0000002", "id 'Pack A'", "port ttyUSB0"
    bool fromBms = false;  // false: the fallback (the port, the MAC), see `why`
    std::string why;       // the fallback: why the BMS's own fields were not used
};

// `raw` as text fit for a log, D-Bus string or name: see above. Never throws.
std::string cleanField(std::string_view raw);
// `text` with every byte outside [A-Za-z0-9_] turned into '_', cut to `maxBytes`.
std::string pathElement(std::string_view text, std::size_t maxBytes = kMaxUidBytes);

// NW: from the raw 0xBA and 0xB4 fields (as decoded, NUL padding included); nullopt when
// 0xB4 is empty or a factory default, whatever 0xBA says.
std::optional<BatteryKey> nwKey(std::string_view manufacturerId, std::string_view deviceId);
// NW has no serial number field: what tells the board apart instead - "<model>_<device id>"
// (the model without the factory filler), as nwKey keys it; "" when nwKey gives no key.
std::string nwIdText(std::string_view manufacturerId, std::string_view deviceId);
// JK-PB and BLE: from the device-info serial number; nullopt when there is none.
std::optional<BatteryKey> serialKey(std::string_view serialNumber);
// The fallback: keyed by where the BMS is (`place`: "ttyUSB0", "ttyUSB0_2", "ble_c8478c000001"),
// as serial-starter names ports; `why` says why (logged once). "jkbms_<place>" with the same
// substitution but not cut (the key used before issue 15).
BatteryKey placeKey(std::string_view place, std::string why);

}  // namespace jkbms::domain
