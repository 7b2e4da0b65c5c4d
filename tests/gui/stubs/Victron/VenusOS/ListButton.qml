import QtQuick

ListSetting {
    property string secondaryText
    property bool readOnly
    signal clicked
}
