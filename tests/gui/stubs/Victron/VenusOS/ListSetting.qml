import QtQuick

// Lint stub of gui-v2's ListSetting / ListItem: the members of all list items our pages use.
Item {
    property string text
    property string caption
    property bool preferredVisible: true
}
