// dbus-jkbms: Settings > Integrations > UI Plugins > dbus-jkbms. The settings every battery
// served by dbus-jkbms on this GX shares, in com.victronenergy.settings under /Settings/JkBms/
// (names, types, ranges and defaults: packaging/venus/gui-v2/README.md). A setting the
// daemon has not created is hidden; with none of them, the page says where the settings are.
pragma ComponentBehavior: Bound

import QtQuick
import Victron.VenusOS

Page {
    id: root

    readonly property string prefix: (Global.systemSettings ? Global.systemSettings.serviceUid
                                                            : "dbus/com.victronenergy.settings")
                                     + "/Settings/JkBms"

    title: "dbus-jkbms"

    // Present once the daemon has created its settings.
    VeQuickItem { id: marker; uid: root.prefix + "/Current/MaxCharge" }
    VeQuickItem { id: relayType; uid: root.prefix + "/Relay/Type" }

    GradientListView {
        model: VisibleItemModel {
            PrimaryListLabel {
                preferredVisible: !marker.valid
                text: "This dbus-jkbms does not publish its settings here yet: they are in /data/conf/dbus-jkbms.yaml."
            }

            ListSpinBox {
                text: "Maximum charge current"
                caption: "0: the BMS's own setting"
                dataItem.uid: root.prefix + "/Current/MaxCharge"
                preferredVisible: dataItem.valid
                suffix: " A"
                from: 0
                to: 1000
                stepSize: 1
            }
            ListSpinBox {
                text: "Maximum discharge current"
                caption: "0: the BMS's own setting"
                dataItem.uid: root.prefix + "/Current/MaxDischarge"
                preferredVisible: dataItem.valid
                suffix: " A"
                from: 0
                to: 1000
                stepSize: 1
            }

            ListSpinBox {
                text: "Charge voltage per cell (bulk, absorption)"
                caption: "0: by chemistry (LFP 3.45 V)"
                dataItem.uid: root.prefix + "/Cell/BulkVoltage"
                preferredVisible: dataItem.valid
                suffix: " V"
                decimals: 3
                from: 0
                to: 4.5
                stepSize: 0.005
            }
            ListSpinBox {
                text: "Float voltage per cell"
                caption: "0: by chemistry (LFP 3.375 V)"
                dataItem.uid: root.prefix + "/Cell/FloatVoltage"
                preferredVisible: dataItem.valid
                suffix: " V"
                decimals: 3
                from: 0
                to: 4.5
                stepSize: 0.005
            }

            ListSpinBox {
                text: "Absorption time"
                dataItem.uid: root.prefix + "/Absorption/MaxTime"
                preferredVisible: dataItem.valid
                suffix: " min"
                from: 0
                to: 1440
                stepSize: 1
            }
            ListSpinBox {
                text: "Tail current"
                caption: "Fraction of the capacity (C): 0.02 C is 6 A on a 300 Ah pack"
                dataItem.uid: root.prefix + "/Absorption/TailCurrent"
                preferredVisible: dataItem.valid
                suffix: " C"
                decimals: 3
                from: 0
                to: 0.5
                stepSize: 0.005
            }
            ListSpinBox {
                text: "Back to bulk below SoC"
                dataItem.uid: root.prefix + "/Float/RebulkSoc"
                preferredVisible: dataItem.valid
                suffix: " %"
                from: 0
                to: 100
                stepSize: 1
            }

            ListSpinBox {
                text: "No charging below"
                dataItem.uid: root.prefix + "/Temperature/ChargeMin"
                preferredVisible: dataItem.valid
                suffix: " °C"
                from: -40
                to: 20
                stepSize: 1
            }
            ListSpinBox {
                text: "No charging above"
                dataItem.uid: root.prefix + "/Temperature/ChargeMax"
                preferredVisible: dataItem.valid
                suffix: " °C"
                from: 20
                to: 80
                stepSize: 1
            }
            ListSpinBox {
                text: "No discharging below"
                dataItem.uid: root.prefix + "/Temperature/DischargeMin"
                preferredVisible: dataItem.valid
                suffix: " °C"
                from: -40
                to: 20
                stepSize: 1
            }
            ListSpinBox {
                text: "No discharging above"
                dataItem.uid: root.prefix + "/Temperature/DischargeMax"
                preferredVisible: dataItem.valid
                suffix: " °C"
                from: 20
                to: 80
                stepSize: 1
            }

            ListRadioButtonGroup {
                text: "Relay on the BMS's power button"
                dataItem.uid: root.prefix + "/Relay/Type"
                preferredVisible: dataItem.valid
                optionModel: [
                    { display: "None", value: 0 },
                    { display: "GPIO line", value: 1 },
                    { display: "GX relay", value: 2 }
                ]
            }
            ListTextField {
                text: "GPIO line"
                dataItem.uid: root.prefix + "/Relay/GpioLine"
                preferredVisible: dataItem.valid && relayType.valid && relayType.value === 1
                placeholderText: "e.g. GPIO17"
            }
            ListRadioButtonGroup {
                text: "GX relay"
                dataItem.uid: root.prefix + "/Relay/VenusRelay"
                preferredVisible: dataItem.valid && relayType.valid && relayType.value === 2
                optionModel: [
                    { display: "Relay 1", value: 0 },
                    { display: "Relay 2", value: 1 }
                ]
            }
            ListSpinBox {
                text: "Press to switch on"
                dataItem.uid: root.prefix + "/Relay/PressOn"
                preferredVisible: dataItem.valid && relayType.valid && relayType.value !== 0
                suffix: " s"
                decimals: 1
                from: 0.1
                to: 10
                stepSize: 0.1
            }
            ListSpinBox {
                text: "Press to switch off"
                dataItem.uid: root.prefix + "/Relay/PressOff"
                preferredVisible: dataItem.valid && relayType.valid && relayType.value !== 0
                suffix: " s"
                decimals: 1
                from: 0.5
                to: 20
                stepSize: 0.1
            }
            ListSpinBox {
                text: "Pause between presses"
                dataItem.uid: root.prefix + "/Relay/PressGap"
                preferredVisible: dataItem.valid && relayType.valid && relayType.value !== 0
                suffix: " s"
                decimals: 1
                from: 0.2
                to: 10
                stepSize: 0.1
            }

            ListTextField {
                text: "Bank members"
                caption: "Battery services, comma separated (ttyUSB0, ttyUSB1); empty: every pack found"
                dataItem.uid: root.prefix + "/Bank/Members"
                preferredVisible: dataItem.valid
                placeholderText: "all"
            }
        }
    }
}
