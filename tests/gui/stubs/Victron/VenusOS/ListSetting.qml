import QtQuick

// Lint stub of gui-v2's ListSetting / ListItem: the members common to all list items.
Item {
    property string text
    property string caption
    property bool preferredVisible: true
    property bool interactive
    property int textFormat
    property int showAccessLevel
    property int writeAccessLevel
}
