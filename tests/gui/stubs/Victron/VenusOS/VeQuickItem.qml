import QtQml

// Lint stub of veutil's VeQuickItem: one D-Bus / MQTT item by uid.
QtObject {
    property string uid
    property var value
    readonly property bool valid: value !== undefined
    property string text
    property real min
    property real max
    function setValue(newValue) { value = newValue }
}
