#!/bin/sh
# Renders the README's screenshots offscreen: four cases (a melanoma, a nevus, an unfamiliar image, an
# archive image under another name, size and JPEG quality) at three screen sizes. Needs the archive next
# to the project and the learned index (built on first use). Run from the project root.
set -eu
ARCHIVE=${ARCHIVE:-../shared/data/ham10000}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# The copy is recognised by its content, not its name: a smaller, re-compressed copy under a clinic's name.
.venv/bin/python -c "
from PIL import Image
Image.open('$ARCHIVE/originals/ISIC_0024525.jpg').resize((450, 338)).save('$WORK/clinic-visit-0042.jpg', quality=70)"
cp "$ARCHIVE/segmentations/ISIC_0024306_segmentation.png" "$WORK/lesion-mask.png"
for size in 1366x768 1920x1080 1280x720; do
  for case in melanoma:originals/ISIC_0024482.jpg nevus:originals/ISIC_0024311.jpg \
              unfamiliar:"$WORK/lesion-mask.png" archive-copy:"$WORK/clinic-visit-0042.jpg"; do
    name=${case%%:*}; image=${case#*:}
    case $image in /*) ;; *) image=$ARCHIVE/$image ;; esac
    QT_QPA_PLATFORM=offscreen .venv/bin/dermview --archive "$ARCHIVE" --window-size "$size" \
      --screenshot "docs/result-$size-$name.png" --layout-json "$WORK/layout.json" "$image"
    echo "$size $name: $(cat "$WORK/layout.json")"
  done
done
