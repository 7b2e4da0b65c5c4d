import QtQuick

ListSetting {
    readonly property VeQuickItem dataItem: VeQuickItem {}
    property real value
    property color valueColor
    property int unit
    property int decimals
}
