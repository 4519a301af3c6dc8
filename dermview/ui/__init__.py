"""The Qt window: adapts the Qt-free core, never re-implements it."""
