"""Where one query's time goes (issue 46), on the 600x450 originals against the learned index, and the command
line timed as a user would run it.

- each stage of ModelSession.classify, medians over the originals: decoding, the archive-copy fingerprint, the
  features, the search (archive only), the unfamiliar and device checks, the outline network, the outline's
  post-processing, the measures; then the whole classify as the window and `predict` run it;
  targets: the whole query <= 50 ms, the search <= 5 ms, the outline's post-processing <= 10 ms;
- `dermview --help` and `dermview predict --help` (the start before any work): target <= 0.5 s;
- `dermview predict` over 1 and over 41 originals: the cost of each extra image; target <= 60 ms.

The index is the one `dermview` itself caches (build it first: `dermview index --features learned`), so this
measures queries, not the cold index (`bench_model.py --features learned` does that).

Run: python -m benchmarks.bench_query [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


from benchmarks._common import PROJECT_ROOT, require_data


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms"


def stages(data) -> None:
    from dermview.archive import open_archive
    from dermview.archive.inputs import gather_inputs
    from dermview.model import lesion_measures, outline
    from dermview.model.copies import fingerprint
    from dermview.model.field import device_note
    from dermview.model.index import load_or_build_index
    from dermview.model.session import ModelSession

    archive = open_archive(data)
    index = load_or_build_index(archive, extractor_name="learned")
    session = ModelSession(archive, index)
    inputs, _ = gather_inputs(sorted((data / "originals").glob("*.jpg")))
    finder = outline.shared_finder()
    session.classify(inputs[0])  # warm-up: both networks' sessions, the search's norms
    names = ("decode", "archive-copy fingerprint", "features", "search", "unfamiliar check", "device check",
             "outline network", "outline post-processing", "measures", "whole classify")
    times: dict[str, list[float]] = {name: [] for name in names}

    def clock(name, func, *args):
        start = time.perf_counter()
        out = func(*args)
        times[name].append(time.perf_counter() - start)
        return out

    for item in inputs:
        data_bytes = item.read()
        image = clock("decode", item.decode, data_bytes, session.extractor.draft_size)
        clock("archive-copy fingerprint", fingerprint, image)
        features = clock("features", session.predictor.features_of, image)
        clock("search", session.predictor.predict_features, features)
        clock("unfamiliar check", session.unfamiliar, image, features)
        clock("device check", device_note, image)
        small = outline.prepare(image)
        probability = clock("outline network", finder.probabilities, small[None])[0]

        def post(probability=probability, small=small, size=image.size):
            kept = outline.keep_lesion(probability, small)
            return None if kept.mask is None else outline.scaled_region(probability, kept.mask, size)

        mask = clock("outline post-processing", post)
        if mask is not None:
            clock("measures", lesion_measures.measure, image, mask)
        clock("whole classify", session.classify, item)
    print(f"{len(inputs)} originals (600x450), learned index of {len(index.image_ids):,} images, "
          f"{index.embedded.shape[1]} searched numbers each; medians:")
    for name in names:
        print(f"  {name:<26s} {median_ms(times[name])}")
    print("  targets: whole <= 50 ms, search <= 5 ms, outline post-processing <= 10 ms")


def command_line(data, repeat: int) -> None:
    originals = [str(p) for p in sorted((data / "originals").glob("*.jpg"))]

    def run(*args: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dermview", *args], cwd=PROJECT_ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start

    common = ["--archive", str(data), "--features", "learned", "--json"]
    for args in (["--help"], ["predict", "--help"]):
        print(f"dermview {' '.join(args)}: median {median_ms([run(*args) for _ in range(max(repeat, 5))])}"
              "   (target <= 500 ms)")
    one, many = [], []
    for _ in range(repeat):  # interleaved: both see the same machine load
        one.append(run("predict", originals[0], *common))
        many.append(run("predict", *originals[:41], *common))
    extra = [(m - o) / 40 for o, m in zip(one, many)]
    print(f"dermview predict: 1 original {median_ms(one)}, 41 originals {median_ms(many)}: "
          f"{median_ms(extra)} per extra image (runs {', '.join(f'{e * 1000:.0f}' for e in sorted(extra))} ms)"
          "   (target <= 60 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args()
    data = require_data()
    stages(data)
    if not args.skip_cli:
        command_line(data, args.repeat)


if __name__ == "__main__":
    sys.exit(main())
