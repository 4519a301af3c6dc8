#!/bin/sh
# Renders the documentation's screenshots offscreen: four cases (a melanoma, a nevus, an unfamiliar image, an
# archive image under another name, size and JPEG quality) at three screen sizes, and at 1366x768 an external
# melanoma and naevus (other institutions' dermatoscopes), a clinical photograph and an ordinary photo; then
# the compare view, and every PNG shrunk (docs/optimise_png.py). Needs the archive next to the project and the
# learned index (built on first use). Run from the project root.
set -eu
ARCHIVE=${ARCHIVE:-../shared/data/ham10000}
EXTERNAL=${EXTERNAL:-../shared/data/external}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# The copy is recognised by its content, not its name: a smaller, re-compressed copy under a clinic's name.
.venv/bin/python -c "
from PIL import Image
Image.open('$ARCHIVE/originals/ISIC_0024525.jpg').resize((450, 338)).save('$WORK/clinic-visit-0042.jpg', quality=70)
from skimage import data
Image.fromarray(data.coffee()).save('$WORK/coffee-cup.jpg', quality=90)"
cp "$ARCHIVE/segmentations/ISIC_0024306_segmentation.png" "$WORK/lesion-mask.png"
shot() {  # size name image [outlines on|off] [browser on|off]
  QT_QPA_PLATFORM=offscreen .venv/bin/dermview --archive "$ARCHIVE" --window-size "$1" --outlines "${4:-off}" \
    --browser "${5:-off}" \
    --screenshot "docs/result-$1-$2.png" --layout-json "$WORK/layout.json" "$3"
  echo "$1 $2: $(cat "$WORK/layout.json")"
}
for size in 1366x768 1920x1080 1280x720; do
  shot "$size" melanoma "$ARCHIVE/originals/ISIC_0024482.jpg"
  shot "$size" nevus "$ARCHIVE/originals/ISIC_0024311.jpg"
  shot "$size" unfamiliar "$WORK/lesion-mask.png"
  shot "$size" archive-copy "$WORK/clinic-visit-0042.jpg"
done
# From the external development part (never the unread one): a framed melanoma and a naevus.
shot 1366x768 external-melanoma "$EXTERNAL/dermoscopy/images/ISIC_0000004.jpg"
shot 1366x768 external-nevus "$EXTERNAL/dermoscopy/images/ISIC_0000012.jpg"
shot 1366x768 clinical-photo "$EXTERNAL/clinical/PADUFES20_PAT_1088_373_781.jpg"
shot 1366x768 photo "$WORK/coffee-cup.jpg"
# The lesion outlines (View > Lesion Outlines) on the query and every neighbour: an archive melanoma and an
# external one from the development part.
shot 1366x768 outlines-melanoma "$ARCHIVE/originals/ISIC_0024482.jpg" on
shot 1366x768 outlines-external-melanoma "$EXTERNAL/dermoscopy/images/ISIC_0000004.jpg" on
# The archive browser kept beside the result on a laptop screen: the query's column reflows, nothing is cut off.
shot 1366x768 browser-melanoma "$ARCHIVE/originals/ISIC_0024482.jpg" on on
# The example case report (an archive melanoma, and an external melanoma with the device note) and its first page.
QT_QPA_PLATFORM=offscreen .venv/bin/dermview report --archive "$ARCHIVE" --pdf docs/report-example.pdf \
  "$ARCHIVE/originals/ISIC_0024482.jpg" "$EXTERNAL/dermoscopy/images/ISIC_0000004.jpg"
pdftoppm -r 80 -png -f 1 -l 1 -singlefile docs/report-example.pdf docs/report-page-melanoma
QT_QPA_PLATFORM=offscreen .venv/bin/python docs/compare_screenshot.py
QT_QPA_PLATFORM=offscreen .venv/bin/python docs/outline_screenshot.py
# Follow-up of one lesion: an unchanged pair and one grown by 40% (run from the root: it uses the benchmark's maker).
QT_QPA_PLATFORM=offscreen .venv/bin/python -c "import runpy; runpy.run_path('docs/followup_screenshot.py', run_name='__main__')"
.venv/bin/python docs/optimise_png.py docs/*.png
