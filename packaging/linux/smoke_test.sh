#!/usr/bin/env bash
# Install the Linux tarball into a throw-away home, start the installed app offscreen with
# --self-test, and check that it wrote only into per-user folders. Used by CI after build.py.
#   packaging/linux/smoke_test.sh dist/dermview-*.tar.gz ARCHIVE_DIR
set -euo pipefail
tarball=$(readlink -f "$1")
archive=$(readlink -f "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" TMPDIR="$work/tmp"
unset ORT_DISABLE_TELEMETRY DERMVIEW_CACHE_DIR XDG_CACHE_HOME XDG_CONFIG_HOME XDG_STATE_HOME XDG_DATA_HOME
mkdir -p "$HOME" "$TMPDIR"
tar -xzf "$tarball" -C "$work"
"$work"/dermview-*/install.sh
app="$HOME/.local/lib/dermview"
test -x "$HOME/.local/bin/dermview"
grep -q "^Exec=$app/dermview %F" "$HOME/.local/share/applications/dermview.desktop"
grep -q "^MimeType=image/jpeg;image/png;" "$HOME/.local/share/applications/dermview.desktop"
test -f "$HOME/.local/share/icons/hicolor/256x256/apps/dermview.png"
before=$(find "$app" -type f | wc -l)
QT_QPA_PLATFORM=offscreen "$HOME/.local/bin/dermview" --self-test --archive "$archive" | tee "$work/self-test.txt"
# the bundle carries onnxruntime and the learned model, so the learned features are what it used
grep -q "(learned features)" "$work/self-test.txt" || { echo "the installed app did not use the learned features" >&2; exit 1; }
after=$(find "$app" -type f | wc -l)
[ "$before" = "$after" ] || { echo "the app wrote into its own folder ($before -> $after files)" >&2; exit 1; }
ls "$HOME"/.cache/dermview/index/learned-*.npz >/dev/null
test -s "$HOME/.local/state/dermview/logs/dermview.log"
# a scripted run (--self-test, --screenshot) reads the user's settings and stores none
[ ! -e "$HOME/.config/dermview/dermview.ini" ] || { echo "the self-test stored settings" >&2; exit 1; }
# a path on the command line (what a file manager passes) is classified
QT_QPA_PLATFORM=offscreen "$HOME/.local/bin/dermview" --archive "$archive" --screenshot "$work/open-with.png" \
    "$archive/originals/ISIC_0024307.jpg"
test -s "$work/open-with.png"
# the case report and the worklist export from the installed command, with no display at all
env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM "$HOME/.local/bin/dermview" report --archive "$archive" \
    --pdf "$work/report.pdf" "$archive/originals/ISIC_0024307.jpg"
pdftotext "$work/report.pdf" - | grep -q "not a medical device" || { echo "the installed app's report lacks its text" >&2; exit 1; }
"$HOME/.local/bin/dermview" predict --archive "$archive" --csv "$work/worklist.csv" "$archive/originals/ISIC_0024307.jpg"
grep -q "^ISIC_0024307.jpg," "$work/worklist.csv"
# the case library (SQLite in the per-user data folder) from the installed command
"$HOME/.local/bin/dermview" library add "$archive/originals/ISIC_0024307.jpg" --case-id SMOKE-1
"$HOME/.local/bin/dermview" library confirm SMOKE-1 --diagnosis nv --dx-type follow_up
"$HOME/.local/bin/dermview" library list --json | grep -q '"status": "confirmed"'
test -s "$HOME/.local/share/dermview/library.sqlite"
# nothing outside dermview's own folders: no telemetry cache or device id (onnxruntime's, switched off), no
# temporary files left behind
[ ! -e "$HOME/.cache/Microsoft" ] || { echo "something keeps telemetry in $HOME/.cache/Microsoft" >&2; exit 1; }
[ -z "$(ls -A "$TMPDIR")" ] || { echo "temporary files left behind: $(ls -A "$TMPDIR")" >&2; exit 1; }
"$work"/dermview-*/install.sh --uninstall
test ! -e "$HOME/.local/bin/dermview"
echo "smoke test passed: installed, self-tested, opened an image, wrote a report and a worklist, kept a case, uninstalled"
