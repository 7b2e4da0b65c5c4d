pragma Singleton
import QtQuick

// Lint stub: the Theme properties our pages use (names as in gui-v2's themes/*.json).
QtObject {
    property color color_font_primary
    property color color_font_secondary
    property color color_listItem_background
    property color color_green
    property color color_orange
    property color color_blue
    property real geometry_listItem_height
    property real geometry_page_content_horizontalMargin
    property real font_size_caption
}
