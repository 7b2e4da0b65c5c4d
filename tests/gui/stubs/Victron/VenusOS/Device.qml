import QtQml

// Lint stub of gui-v2's Device (src/basedevice.h): the members our pages use.
QtObject {
    property string serviceUid
}
