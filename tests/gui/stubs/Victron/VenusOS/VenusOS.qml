pragma Singleton
import QtQml

// Lint stub: the VenusOS enum values our pages use.
QtObject {
    readonly property int ModalDialog_DoneOptions_OkAndCancel: 0
    readonly property int Units_Volt_DC: 0
    readonly property int Units_Amp: 0
    readonly property int Units_Watt: 0
    readonly property int Units_Percentage: 0
    readonly property int Units_AmpHour: 0
    readonly property int Units_Temperature_Celsius: 0
}
