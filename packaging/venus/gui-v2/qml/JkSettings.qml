// dbus-jkbms: the settings of one battery (or JK-PB bank) that can be changed on the GX. They
// live in com.victronenergy.settings under the battery's own settings path, which its service
// publishes as /Mgmt/SettingsPath ("/Settings/Devices/<uid>/JkBms"; names, types, ranges and
// defaults: packaging/venus/gui-v2/README.md, "Settings"). Pushed from "JK BMS details" with
// that path; opened from Settings > Integrations > UI Plugins (no battery) it says where to
// find them. A setting the daemon has not created is hidden.
pragma ComponentBehavior: Bound

import QtQuick
import Victron.VenusOS

Page {
    id: root

    // The battery's /Mgmt/SettingsPath; "" when opened without a battery.
    property string settingsPath: ""
    readonly property string prefix: (Global.systemSettings ? Global.systemSettings.serviceUid
                                                            : "dbus/com.victronenergy.settings")
                                     + root.settingsPath

    title: "dbus-jkbms settings"

    // Present once the daemon has created the settings.
    VeQuickItem { id: marker; uid: root.settingsPath.length > 0 ? root.prefix + "/Current/MaxCharge" : "" }

    GradientListView {
        model: VisibleItemModel {
            PrimaryListLabel {
                preferredVisible: !marker.valid
                text: root.settingsPath.length > 0
                      ? "This battery's settings have not been created yet (localsettings has not answered dbus-jkbms)."
                      : "Each battery (or bank) has its own settings: Settings > Device list > the battery > JK BMS details > Settings. What the GX cannot change stays in /data/conf/dbus-jkbms.yaml."
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

            ListSpinBox {
                text: "Press to switch on"
                dataItem.uid: root.prefix + "/Relay/PressOn"
                preferredVisible: dataItem.valid
                suffix: " s"
                decimals: 1
                from: 0.2
                to: 2
                stepSize: 0.1
            }
            ListSpinBox {
                text: "Press to switch off"
                dataItem.uid: root.prefix + "/Relay/PressOff"
                preferredVisible: dataItem.valid
                suffix: " s"
                decimals: 1
                from: 1
                to: 10
                stepSize: 0.1
            }
            ListSpinBox {
                text: "Pause between presses"
                dataItem.uid: root.prefix + "/Relay/PressGap"
                preferredVisible: dataItem.valid
                suffix: " s"
                decimals: 1
                from: 0.2
                to: 10
                stepSize: 0.1
            }

            ListTextField {
                text: "Bank members"
                caption: "Battery services, comma separated (ttyUSB0, ttyUSB1); empty: every member found"
                dataItem.uid: root.prefix + "/Bank/Members"
                preferredVisible: dataItem.valid
                placeholderText: "all"
            }
        }
    }
}
