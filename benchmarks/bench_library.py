"""The case library searched beside the archive (issue 14 targets): at most 1 s from "confirm" to being
searchable, and a query under 100 ms with 5,000 of the practice's own confirmed cases.

A library of 5,000 confirmed cases is built from archive images (their stored vectors are the archive
index's, as `library add --archive` stores them), then:
- add and confirm latency (one transaction each), medians;
- opening the search over 5,000 cases (reading their vectors), median;
- one query of a 600x450 original (decode, features, search, vote): archive only vs archive + 5,000 cases;
- confirm -> searchable: confirm a new case, then the refresh a query runs first, until the case is found.

Run: python -m benchmarks.bench_library [--features learned|classic] [--cases 5000] [--postgres]
(--postgres starts a throw-away PostgreSQL server, as the tests do; the default is an SQLite file).
The archive index is the per-user cached one (built on first use, about 2 minutes for learned).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks._common import require_data


def median_ms(times: list[float]) -> str:
    return f"{1000 * statistics.median(times):.1f} ms (min {1000 * min(times):.1f}, max {1000 * max(times):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--features", choices=("classic", "learned"), default="learned")
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    data = require_data()
    from dermview.archive import open_archive
    from dermview.archive.inputs import gather_inputs
    from dermview.library.search import OwnCases, search_library
    from dermview.model.extractors import vector_key
    from dermview.library.store import CaseLibrary
    from dermview.model.predictor import SearchIn
    from dermview.model.session import ModelSession

    archive = open_archive(data)
    session = ModelSession.open(archive, args.features)
    index, key = session.index, vector_key(session.extractor)
    cluster = None
    if args.postgres:
        from tests.postgres import Cluster  # the tests' throw-away server (tests/ as a namespace package)

        cluster = Cluster()
        url = cluster.database("bench_library")
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='dermview-bench-library-')) / 'library.sqlite'}"
    try:
        library = CaseLibrary(url)
        adds, confirms = [], []
        dx_of = dict(zip(archive.metadata["image_id"], archive.metadata["dx"].astype(str)))
        for row in range(args.cases):
            image_id = str(index.image_ids[row])
            blob = (data / "images" / f"{image_id}.jpg").read_bytes()
            start = time.perf_counter()
            library.add_case(blob, f"B-{row:05d}", features=(key, index.features[row]))
            adds.append(time.perf_counter() - start)
            start = time.perf_counter()
            library.confirm(f"B-{row:05d}", dx_of[image_id], "histo")
            confirms.append(time.perf_counter() - start)
        print(f"library: {'PostgreSQL (throw-away server)' if cluster else 'SQLite file'}, "
              f"{args.cases:,} confirmed cases, {args.features} features")
        print(f"add a case (one transaction, image + vector): median {median_ms(adds)}")
        print(f"confirm a case (one transaction): median {median_ms(confirms)}")

        opens = []
        for _ in range(3):
            start = time.perf_counter()
            own = OwnCases(library, session.extractor, index.projection)
            own.refresh()
            opens.append(time.perf_counter() - start)
        print(f"open the search over {len(own):,} cases (read their vectors): median {median_ms(opens)}")
        search_library(session, library)

        queries, _ = gather_inputs(sorted((data / "originals").glob("*.jpg"))[:20])
        timings: dict[SearchIn, list[float]] = {SearchIn.ARCHIVE: [], SearchIn.BOTH: []}
        for image in queries:
            blob = image.read()
            for search in timings:
                session.search = search
                start = time.perf_counter()
                outcome = session.classify(image, data=blob)
                timings[search].append(time.perf_counter() - start)
                assert search is SearchIn.ARCHIVE or outcome.own_cases == len(own)
        for search, times in timings.items():
            print(f"query of a 600x450 original, {search.label.lower()}: median {median_ms(times)}")
        ratio = statistics.median(timings[SearchIn.BOTH]) / statistics.median(timings[SearchIn.ARCHIVE])
        print(f"  with {len(own):,} own cases / archive only: {ratio:.2f}x")

        latencies = []
        session.search = SearchIn.BOTH
        for n in range(20):
            row = args.cases + n
            image_id = str(index.image_ids[row])
            case_id = f"L-{n:03d}"
            library.add_case((data / "images" / f"{image_id}.jpg").read_bytes(), case_id,
                             features=(key, index.features[row]))
            session.own.refresh()
            start = time.perf_counter()
            library.confirm(case_id, "mel", "histo")
            session.own.refresh()  # what the next query does first
            found = any(case.case_id == case_id for case in session.own.cases)
            latencies.append(time.perf_counter() - start)
            assert found
        print(f"confirm -> searchable (confirm, then the refresh a query runs first): median {median_ms(latencies)}")
        library.close()
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
