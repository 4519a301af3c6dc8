#!/bin/sh
# Install dermview for the current user: the program under ~/.local/lib/dermview, a launcher in
# ~/.local/bin, and an application-menu entry and icon. Run from the unpacked tarball:
#   ./install.sh            (PREFIX=/some/where ./install.sh to install elsewhere)
#   ./install.sh --uninstall
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-"$HOME/.local"}
APPDIR="$PREFIX/lib/dermview"
BINDIR="$PREFIX/bin"
DATADIR=${XDG_DATA_HOME:-"$PREFIX/share"}
DESKTOP="$DATADIR/applications/dermview.desktop"
ICON="$DATADIR/icons/hicolor/256x256/apps/dermview.png"

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$APPDIR" "$BINDIR/dermview" "$DESKTOP" "$ICON"
    echo "dermview removed (your cache, settings and logs stay in ~/.cache, ~/.config and ~/.local/state)."
    exit 0
fi

[ -x "$HERE/dermview/dermview" ] || { echo "install.sh: run me from the unpacked dermview tarball" >&2; exit 1; }
mkdir -p "$APPDIR" "$BINDIR" "$(dirname "$DESKTOP")" "$(dirname "$ICON")"
rm -rf "$APPDIR"
cp -R "$HERE/dermview" "$APPDIR"
ln -sf "$APPDIR/dermview" "$BINDIR/dermview"
cp "$HERE/dermview.png" "$ICON"
sed "s|@EXEC@|$APPDIR/dermview|" "$HERE/dermview.desktop" > "$DESKTOP"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$(dirname "$DESKTOP")" || true
echo "dermview installed in $APPDIR; start it from the application menu or with $BINDIR/dermview"
