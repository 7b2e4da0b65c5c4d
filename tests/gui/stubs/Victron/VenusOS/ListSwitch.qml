import QtQuick

ListSetting {
    readonly property VeQuickItem dataItem: VeQuickItem {}
    property bool checked
    property bool checkable
    property string secondaryText
    property bool updateDataOnClick: true
    property bool invertSourceValue
    property var valueTrue: 1
    property var valueFalse: 0
    signal clicked
}
