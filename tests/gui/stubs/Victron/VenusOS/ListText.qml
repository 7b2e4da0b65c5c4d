import QtQuick

ListSetting {
    readonly property VeQuickItem dataItem: VeQuickItem {}
    property string secondaryText
    property color secondaryTextColor
}
