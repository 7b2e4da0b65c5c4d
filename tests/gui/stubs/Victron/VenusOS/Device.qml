import QtQml

// Lint stub of gui-v2's Device (src/basedevice.h).
QtObject {
    property bool valid
    property string serviceUid
    property int deviceInstance
    property int productId
    property string productName
    property string customName
    property string name
}
