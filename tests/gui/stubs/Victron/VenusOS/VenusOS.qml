pragma Singleton
import QtQml

// Lint stub: the VenusOS enum values our pages use.
QtObject {
    readonly property int ModalDialog_DoneOptions_OkAndCancel: 0
}
