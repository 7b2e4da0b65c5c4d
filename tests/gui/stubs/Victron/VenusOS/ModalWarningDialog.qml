import QtQuick

// Lint stub of gui-v2's ModalWarningDialog (a ModalDialog, a Qt Quick Controls Dialog).
Item {
    property string title
    property string description
    property int dialogDoneOptions
    property string acceptText
    property string rejectText
    signal accepted
    signal rejected
}
