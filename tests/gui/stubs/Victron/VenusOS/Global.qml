pragma Singleton
import QtQml

// Lint stub (not gui-v2's code): only the members our pages use.
QtObject {
    property var dialogLayer
    property var pageManager
    property var systemSettings
}
