import QtQuick

ListSetting {
    property string secondaryText
    property color secondaryTextColor
    signal clicked
}
