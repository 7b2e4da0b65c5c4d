import QtQuick

ListSetting {
    readonly property VeQuickItem dataItem: VeQuickItem {}
    property string secondaryText
    property string placeholderText
    property string suffix
    signal accepted
}
