import QtQml.Models

// Lint stub of gui-v2's VisibleItemModel (an object model of list items).
ObjectModel {
}
