// dbus-jkbms: the extra page of one of our batteries (or banks) in Settings > Device list.
// gui-v2 shows the entry "JK BMS details" on the device page of every battery service with
// /ProductId 0xBA77 and pushes this page with that `device`. Every row binds to a path the
// daemon publishes (src/dbus/battery_paths.cpp); a row whose path is missing or invalid is
// hidden, or shows "--" where hiding would leave a gap in a pair.
pragma ComponentBehavior: Bound

import QtQuick
import Victron.VenusOS

DeviceListPluginPage {
    id: root

    readonly property string uid: device ? device.serviceUid : ""

    function fixed(item, decimals, unit) {
        return item.valid ? Number(item.value).toFixed(decimals) + " " + unit : "--"
    }
    // A limit and the limiter in force: "120.0 A (cell voltage)".
    function limitText(limitItem, reasonItem) {
        const limit = fixed(limitItem, 1, "A")
        return reasonItem.valid && String(reasonItem.value).length > 0
                ? limit + " (" + reasonItem.value + ")" : limit
    }
    function onOff(item) {
        return item.valid ? (item.value ? "yes" : "no") : "--"
    }
    // Asks before a write that changes what the battery does.
    function confirm(title, description, item, value) {
        Global.dialogLayer.open(confirmDialog, {
            title: title, description: description, target: item, newValue: value
        })
    }

    title: "JK BMS details"

    // A member of a bank publishes its limits under /Bank/* instead of /Info/*.
    readonly property bool bankMember: bankCvl.valid || bankService.valid
    VeQuickItem { id: infoCvl; uid: root.uid + "/Info/MaxChargeVoltage" }
    VeQuickItem { id: infoCcl; uid: root.uid + "/Info/MaxChargeCurrent" }
    VeQuickItem { id: infoDcl; uid: root.uid + "/Info/MaxDischargeCurrent" }
    VeQuickItem { id: bankCvl; uid: root.uid + "/Bank/MaxChargeVoltage" }
    VeQuickItem { id: bankCcl; uid: root.uid + "/Bank/MaxChargeCurrent" }
    VeQuickItem { id: bankDcl; uid: root.uid + "/Bank/MaxDischargeCurrent" }
    VeQuickItem { id: bankService; uid: root.uid + "/Bank/Service" }
    VeQuickItem { id: bankStatus; uid: root.uid + "/Bank/Status" }
    VeQuickItem { id: chargeLimitation; uid: root.uid + "/Info/ChargeLimitation" }
    VeQuickItem { id: dischargeLimitation; uid: root.uid + "/Info/DischargeLimitation" }
    VeQuickItem { id: allowCharge; uid: root.uid + "/Io/AllowToCharge" }
    VeQuickItem { id: allowDischarge; uid: root.uid + "/Io/AllowToDischarge" }
    VeQuickItem { id: cellCount; uid: root.uid + "/System/NrOfCellsPerBattery" }
    VeQuickItem { id: cellDiff; uid: root.uid + "/Voltages/Diff" }
    VeQuickItem { id: balancing; uid: root.uid + "/Balancing" }
    VeQuickItem { id: power; uid: root.uid + "/Bms/Power" }
    // Where this battery's settings on the GX are (in com.victronenergy.settings).
    VeQuickItem { id: settingsPath; uid: root.uid + "/Mgmt/SettingsPath" }
    // DVCC as systemcalc applies it (victron-dbus.md 6.5): off by default for our product id,
    // and then no charger follows the limits below. The system's uid has the battery's form:
    // "dbus/com.victronenergy.system" on D-Bus, "mqtt/system/0" over MQTT.
    readonly property string systemUid: uid.startsWith("mqtt/") ? "mqtt/system/0" : "dbus/com.victronenergy.system"
    VeQuickItem { id: dvcc; uid: root.systemUid + "/Control/Dvcc" }
    // A refused configuration file (the daemon runs on the defaults, charging nothing): the
    // text says where the log with each error and its line is.
    VeQuickItem { id: configError; uid: root.uid + "/ConfigError" }

    Component {
        id: confirmDialog

        ModalWarningDialog {
            property var target
            property var newValue
            dialogDoneOptions: VenusOS.ModalDialog_DoneOptions_OkAndCancel
            onAccepted: if (target) target.setValue(newValue)
        }
    }

    GradientListView {
        model: VisibleItemModel {
            ListText {
                text: "Error: configuration refused"
                secondaryText: configError.valid ? String(configError.value) : ""
                preferredVisible: configError.valid && String(configError.value).length > 0
            }
            ListText {
                text: "Warning: DVCC is off"
                secondaryText: "no charger follows these limits (Settings > DVCC)"
                preferredVisible: dvcc.valid && Number(dvcc.value) === 0 && !root.bankMember
            }
            ListNavigation {
                text: "Cells"
                secondaryText: {
                    if (!cellCount.valid)
                        return "--"
                    let s = cellCount.value + " cells"
                    if (cellDiff.valid)
                        s += ", spread " + (cellDiff.value * 1000).toFixed(0) + " mV"
                    if (balancing.valid && balancing.value)
                        s += ", balancing"
                    return s
                }
                onClicked: Global.pageManager.pushPage("qrc:/dbus-jkbms/JkCells.qml",
                                                       { serviceUid: root.uid, title: text })
            }

            ListNavigation {
                text: "Settings"
                secondaryText: "Charge limits, temperatures, relay"
                preferredVisible: settingsPath.valid && String(settingsPath.value).length > 0
                onClicked: Global.pageManager.pushPage("qrc:/dbus-jkbms/JkSettings.qml",
                                                       { settingsPath: String(settingsPath.value) })
            }

            ListText {
                text: "Charge mode"
                dataItem.uid: root.uid + "/Info/ChargeMode"
                preferredVisible: dataItem.valid
            }
            ListText {
                text: "Charge voltage limit (CVL)"
                secondaryText: root.fixed(root.bankMember ? bankCvl : infoCvl, 2, "V")
            }
            ListText {
                text: "Charge current limit (CCL)"
                secondaryText: root.limitText(root.bankMember ? bankCcl : infoCcl, chargeLimitation)
            }
            ListText {
                text: "Discharge current limit (DCL)"
                secondaryText: root.limitText(root.bankMember ? bankDcl : infoDcl, dischargeLimitation)
            }
            ListText {
                text: "Allowed to charge / discharge"
                secondaryText: root.onOff(allowCharge) + " / " + root.onOff(allowDischarge)
            }
            ListText {
                text: "Bank"
                preferredVisible: bankStatus.valid || bankService.valid
                secondaryText: bankStatus.valid ? bankStatus.value
                             : String(bankService.value).length > 0 ? "member of " + bankService.value
                             : "member"
            }
            ListText {
                // A bank only (a single pack publishes 1 / 0 as well).
                text: "Packs online / offline"
                preferredVisible: bankStatus.valid && modulesOnline.valid
                secondaryText: modulesOnline.value + " / " + (modulesOffline.valid ? modulesOffline.value : "--")
                VeQuickItem { id: modulesOnline; uid: root.uid + "/System/NrOfModulesOnline" }
                VeQuickItem { id: modulesOffline; uid: root.uid + "/System/NrOfModulesOffline" }
            }

            ListSwitch {
                text: "BMS charge switch"
                dataItem.uid: root.uid + "/Bms/ChargeSwitch"
                preferredVisible: dataItem.valid
                updateDataOnClick: false
                onClicked: root.confirm(text, checked
                        ? "Switch the BMS's charge MOSFET off? Nothing can charge this battery until it is switched on again."
                        : "Switch the BMS's charge MOSFET on?", dataItem, checked ? 0 : 1)
            }
            ListSwitch {
                text: "BMS discharge switch"
                dataItem.uid: root.uid + "/Bms/DischargeSwitch"
                preferredVisible: dataItem.valid
                updateDataOnClick: false
                onClicked: root.confirm(text, checked
                        ? "Switch the BMS's discharge MOSFET off? The loads on this battery lose power."
                        : "Switch the BMS's discharge MOSFET on?", dataItem, checked ? 0 : 1)
            }
            ListSwitch {
                text: "BMS balancer"
                dataItem.uid: root.uid + "/Bms/BalanceSwitch"
                preferredVisible: dataItem.valid
                updateDataOnClick: false
                onClicked: root.confirm(text, checked ? "Switch the BMS's balancer off?"
                                                      : "Switch the BMS's balancer on?",
                                        dataItem, checked ? 0 : 1)
            }
            ListButton {
                text: "BMS power"
                // /Bms/Power exists only when a relay is wired to the BMS's button.
                preferredVisible: power.valid
                caption: power.text
                secondaryText: power.value ? "Switch off" : "Switch on"
                onClicked: root.confirm(text, power.value
                        ? "Press the BMS's power button to switch it off? The battery disconnects and this page stays empty until it is switched on."
                        : "Press the BMS's power button to switch it on?", power, power.value ? 0 : 1)
            }

            ListText {
                text: "Product"
                dataItem.uid: root.uid + "/ProductName"
                preferredVisible: dataItem.valid
            }
            ListText {
                text: "Firmware version"
                dataItem.uid: root.uid + "/FirmwareVersion"
                preferredVisible: dataItem.valid
            }
            ListText {
                text: "Hardware version"
                dataItem.uid: root.uid + "/HardwareVersion"
                preferredVisible: dataItem.valid
            }
            ListText {
                text: "Serial number"
                dataItem.uid: root.uid + "/Serial"
                preferredVisible: dataItem.valid
            }
            ListText {
                text: "Connection"
                dataItem.uid: root.uid + "/Mgmt/Connection"
                preferredVisible: dataItem.valid
            }
            ListText {
                text: "Driver"
                secondaryText: driverName.valid
                        ? driverName.value + (driverVersion.valid ? " " + driverVersion.value : "") : "--"
                VeQuickItem { id: driverName; uid: root.uid + "/Mgmt/ProcessName" }
                VeQuickItem { id: driverVersion; uid: root.uid + "/Mgmt/ProcessVersion" }
            }
        }
    }
}
