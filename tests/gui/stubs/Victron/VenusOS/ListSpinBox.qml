import QtQuick

ListButton {
    readonly property VeQuickItem dataItem: VeQuickItem {}
    property real value
    property string suffix
    property int decimals
    property real from
    property real to
    property real stepSize
    property var presets
    signal selectorAccepted(var newValue)
}
