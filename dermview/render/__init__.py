"""Drawing without windows: Qt's painter on pages and images (QtGui only, never widgets or the window).
``dermview report`` uses it offscreen; the window uses the same code to export and print."""
