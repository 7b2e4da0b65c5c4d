import QtQuick

// Lint stub of gui-v2's Page.
FocusScope {
    property string title
}
