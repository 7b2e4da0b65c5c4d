import QtQuick

ListSetting {
    readonly property VeQuickItem dataItem: VeQuickItem {}
    property var optionModel: []
    property int currentIndex
    property bool updateDataOnClick: true
}
