#!/usr/bin/env bash
# Build the wheel, install it into a fresh venv (as `pip install .`, pipx or a wheel would), and from
# another folder classify an image with the learned features: the model must travel in the package.
#   packaging/wheel_test.sh ARCHIVE_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=$(readlink -f "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$root/.venv-wheel-build" >/dev/null 2>&1 || true
"$root/.venv-wheel-build/bin/pip" install -q build
"$root/.venv-wheel-build/bin/python" -m build --wheel --outdir "$work/dist" "$root" >/dev/null
rm -rf "$root/.venv-wheel-build" "$root/build"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$work"/dist/dermview-*.whl
# A small archive of 300 images (links into the shared copy), so the learned index builds in seconds.
mkdir -p "$work/archive/images"
head -n 301 "$data/HAM10000_metadata.csv" > "$work/archive/HAM10000_metadata.csv"
tail -n +2 "$work/archive/HAM10000_metadata.csv" | cut -d, -f2 | while read -r id; do
  ln -s "$data/images/$id.jpg" "$work/archive/images/$id.jpg"
done
cd "$work"  # not the project folder: nothing may be found through a checkout
model=$("$work/venv/bin/python" -c "from dermview.model.learned import default_model_path as p; print(p())")
case "$model" in
  "$work/venv/"*) ;;
  *) echo "the installed package found its model at '$model', not inside the venv" >&2; exit 1 ;;
esac
"$work/venv/bin/dermview" predict --archive "$work/archive" --features learned --json \
    --cache-dir "$work/cache" "$data/originals/ISIC_0024307.jpg" > "$work/out.json"
grep -q '"prediction"' "$work/out.json" || { echo "no prediction from the wheel install" >&2; exit 1; }
ls "$work"/cache/index/learned-*.npz >/dev/null
echo "wheel test passed: installed from the wheel, found $model, predicted with learned features"
