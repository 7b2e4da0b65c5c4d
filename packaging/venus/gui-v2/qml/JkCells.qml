// dbus-jkbms: the cells of one battery as bars - /Voltages/Cell<N> and /Balances/Cell<N>,
// with the lowest and highest cell (/System/Min|MaxCellVoltage and their cell ids) marked.
// The bars share one scale, from a little below the lowest cell to a little above the
// highest, so a spread of a few millivolts is visible. Pushed by JkBattery.qml.
pragma ComponentBehavior: Bound

import QtQuick
import Victron.VenusOS

Page {
    id: root

    property string serviceUid

    readonly property real lowV: minCell.valid ? minCell.value : NaN
    readonly property real highV: maxCell.valid ? maxCell.value : NaN
    // The scale: at least 50 mV wide, the lowest cell at 10 % of the bar.
    readonly property real scaleWidth: isNaN(lowV) || isNaN(highV) ? 0.05 : Math.max(0.05, (highV - lowV) * 1.25)
    readonly property real scaleFrom: isNaN(lowV) ? 0 : lowV - scaleWidth * 0.1

    function volts(item) {
        return item.valid ? Number(item.value).toFixed(3) + " V" : "--"
    }

    VeQuickItem { id: cellCount; uid: root.serviceUid + "/System/NrOfCellsPerBattery" }
    VeQuickItem { id: minCell; uid: root.serviceUid + "/System/MinCellVoltage" }
    VeQuickItem { id: maxCell; uid: root.serviceUid + "/System/MaxCellVoltage" }
    VeQuickItem { id: minCellId; uid: root.serviceUid + "/System/MinVoltageCellId" }
    VeQuickItem { id: maxCellId; uid: root.serviceUid + "/System/MaxVoltageCellId" }
    VeQuickItem { id: diff; uid: root.serviceUid + "/Voltages/Diff" }
    VeQuickItem { id: sum; uid: root.serviceUid + "/Voltages/Sum" }

    GradientListView {
        header: Column {
            width: parent ? parent.width : 0

            ListText {
                text: "Lowest cell"
                secondaryText: root.volts(minCell) + (minCellId.valid ? "  (" + minCellId.value + ")" : "")
            }
            ListText {
                text: "Highest cell"
                secondaryText: root.volts(maxCell) + (maxCellId.valid ? "  (" + maxCellId.value + ")" : "")
            }
            ListText {
                text: "Spread"
                secondaryText: diff.valid ? (diff.value * 1000).toFixed(0) + " mV" : "--"
            }
            ListText {
                text: "Sum of the cells"
                preferredVisible: sum.valid
                secondaryText: sum.valid ? Number(sum.value).toFixed(2) + " V" : "--"
            }
        }

        // No reading (or no cell count): no rows, the header says "--".
        model: cellCount.valid ? cellCount.value : 0

        delegate: Item {
            id: cellRow

            required property int index
            readonly property string cellName: "C" + (index + 1)
            readonly property bool isLowest: minCellId.valid && minCellId.value === cellName
            readonly property bool isHighest: maxCellId.valid && maxCellId.value === cellName
            readonly property real fraction: voltage.valid
                    ? Math.min(1, Math.max(0.02, (voltage.value - root.scaleFrom) / root.scaleWidth)) : 0

            width: ListView.view ? ListView.view.width : 0
            height: Theme.geometry_listItem_height * 0.6

            VeQuickItem { id: voltage; uid: root.serviceUid + "/Voltages/Cell" + (cellRow.index + 1) }
            VeQuickItem { id: balance; uid: root.serviceUid + "/Balances/Cell" + (cellRow.index + 1) }

            Text {
                id: nameLabel
                anchors {
                    left: parent.left
                    leftMargin: Theme.geometry_page_content_horizontalMargin
                    verticalCenter: parent.verticalCenter
                }
                width: parent.width * 0.12
                text: cellRow.cellName
                color: Theme.color_font_secondary
                font.pixelSize: Theme.font_size_caption
            }

            Rectangle {
                id: track
                anchors {
                    left: nameLabel.right
                    right: valueLabel.left
                    rightMargin: Theme.geometry_page_content_horizontalMargin / 2
                    verticalCenter: parent.verticalCenter
                }
                height: parent.height * 0.5
                radius: height / 4
                color: Theme.color_listItem_background

                Rectangle {
                    anchors { left: parent.left; top: parent.top; bottom: parent.bottom }
                    width: parent.width * cellRow.fraction
                    radius: parent.radius
                    color: cellRow.isHighest ? Theme.color_orange
                         : cellRow.isLowest ? Theme.color_blue : Theme.color_green
                    visible: voltage.valid
                }
            }

            Text {
                id: valueLabel
                anchors {
                    right: parent.right
                    rightMargin: Theme.geometry_page_content_horizontalMargin
                    verticalCenter: parent.verticalCenter
                }
                width: parent.width * 0.3
                horizontalAlignment: Text.AlignRight
                // "bal": the BMS is balancing this cell; "min" / "max": the lowest / highest cell.
                text: root.volts(voltage) + (balance.valid && balance.value ? "  bal" : "")
                         + (cellRow.isHighest ? "  max" : cellRow.isLowest ? "  min" : "")
                color: balance.valid && balance.value ? Theme.color_orange : Theme.color_font_primary
                font.pixelSize: Theme.font_size_caption
            }
        }
    }
}
