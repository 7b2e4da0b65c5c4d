import QtQuick

// Lint stub of gui-v2's PrimaryListLabel (a Label).
Text {
    property bool preferredVisible: true
}
