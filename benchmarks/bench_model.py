"""Speed and memory of the model on the real archive (issue 3 targets; issue 6 with --features learned:
a cold index under 3 minutes, one more query under 100 ms).

- a cold index of all 10,015 images vs merely decoding the same JPEGs with Pillow (same run);
  target: at most 8x, and under 60 s;
- loading the cached index; target: well under 1 s;
- one more query against a loaded index for a 600x450 original (decode, features, search);
  target: under 50 ms;
- the loaded index's memory; target: under 50 MB.

Run: python -m benchmarks.bench_model [--workers N] [--features classic|learned] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from benchmarks._common import require_data, timed

from PIL import Image


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--features", choices=("classic", "learned"), default="classic")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = require_data()
    os.environ["DERMVIEW_CACHE_DIR"] = tempfile.mkdtemp(prefix="dermview-bench-")
    from dermview.archive import open_archive, load_image_file
    from dermview.model.extractors import get_extractor
    from dermview.model.index import build_index, cache_file, default_workers, load_index, save_index
    from dermview.model.predictor import Predictor

    archive = open_archive(data)
    ids = list(archive.metadata["image_id"])
    files = [data / "images" / f"{i}.jpg" for i in ids]
    for f in files:  # warm the OS file cache for both measurements alike
        f.read_bytes()

    def decode_all() -> None:
        for f in files:
            with Image.open(f) as im:
                im.load()

    workers = args.workers or default_workers()
    decodes, colds = [], []
    for run in range(args.runs):  # interleaved, so that both see the same machine load
        start = time.perf_counter()
        decode_all()
        decodes.append(time.perf_counter() - start)
        start = time.perf_counter()
        index = build_index(archive, extractor_name=args.features, workers=workers)
        colds.append(time.perf_counter() - start)
        print(f"  run {run + 1}: decode {decodes[-1]:.1f} s, cold index {colds[-1]:.1f} s", flush=True)
    decode, cold = statistics.median(decodes), statistics.median(colds)
    ratios = sorted(c / d for c, d in zip(colds, decodes))
    print(f"decode {len(files):,} JPEGs with Pillow (one thread, full size): median {decode:.1f} s "
          f"({decode / len(files) * 1000:.2f} ms each)")
    print(f"cold {args.features} index ({workers} worker threads): median {cold:.1f} s "
          f"= {cold / decode:.1f}x the decode time (per-run ratios {', '.join(f'{r:.1f}' for r in ratios)})"
          + ("   (targets: <= 8x, < 60 s)" if args.features == "classic" else "   (target: < 180 s)"))

    path = cache_file(archive, get_extractor(args.features))
    save_index(index, path)
    print(f"cache file: {path.stat().st_size / 1e6:.1f} MB")
    median, _ = timed(lambda: load_index(path), repeat=7)
    print(f"load the cached index: median {median * 1000:.0f} ms of 7   (target: well under 1 s)")

    before = rss_mb()
    loaded = load_index(path)
    after = rss_mb()
    print(f"loaded index arrays: {loaded.nbytes / 1e6:.1f} MB (resident memory grew {after - before:.1f} MB)"
          + ("   (target: < 50 MB)" if args.features == "classic" else
             f"   ({loaded.features.shape[1]} float32 features and {loaded.embedded.shape[1]} searched numbers per image)"))

    predictor = Predictor(archive, loaded)
    originals = sorted((data / "originals").glob("*.jpg"))
    extractor = predictor.extractor
    predictor.predict_image(load_image_file(originals[0], draft_size=extractor.draft_size))  # warm-up
    times = []
    for path in originals:
        start = time.perf_counter()
        predictor.predict_image(load_image_file(path, draft_size=extractor.draft_size))
        times.append(time.perf_counter() - start)
    print(f"one query, 600x450 original (decode + features + search): median {statistics.median(times) * 1000:.1f} ms, "
          f"90th percentile {sorted(times)[int(0.9 * len(times))] * 1000:.1f} ms over {len(times)} originals "
          + ("(target: < 50 ms)" if args.features == "classic" else "(target: < 100 ms)"))

    # The whole query as the window and `predict` run it: the search, plus archive-copy recognition, the
    # unfamiliar and device checks, and the lesion's outline with its measures.
    from dermview.archive.inputs import gather_inputs
    from dermview.model.session import ModelSession

    session = ModelSession(archive, loaded)
    inputs, _ = gather_inputs(originals)
    session.classify(inputs[0])  # warm-up: the outline network's session
    whole = []
    for item in inputs:
        start = time.perf_counter()
        session.classify(item)
        whole.append(time.perf_counter() - start)
    print(f"the whole query (ModelSession.classify: search, checks, outline and measures): median "
          f"{statistics.median(whole) * 1000:.1f} ms, 90th percentile {sorted(whole)[int(0.9 * len(whole))] * 1000:.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
