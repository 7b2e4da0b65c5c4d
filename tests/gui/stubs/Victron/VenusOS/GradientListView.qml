import QtQuick

// Lint stub of gui-v2's GradientListView (a ListView).
ListView {
}
