import QtQuick

// Lint stub of gui-v2's DeviceListPluginPage: a Page given the Device it is opened for.
Page {
    required property Device device
}
