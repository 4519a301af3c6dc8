"""``dermview info`` and ``dermview index``: an archive described, and its feature index built."""

from __future__ import annotations

import argparse
import json

from .common import EXIT_OK, add_common, add_features, open_session


def add_parsers(sub) -> None:
    info = sub.add_parser("info", help="describe an archive: images, lesions, counts by diagnosis")
    add_common(info)
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(run=run_info)
    index = sub.add_parser("index", help="build or refresh the feature index of an archive (cached per user)")
    add_common(index)
    index.add_argument("--rebuild", action="store_true", help="rebuild even if the cache is current")
    add_features(index)

    index.set_defaults(run=run_index)


def run_index(args: argparse.Namespace) -> int:
    from ..model.index import cache_file

    session, seconds = open_session(args, rebuild=args.rebuild)
    index = session.index
    print(f"Index of {len(index.image_ids):,} images ({index.extractor} features) ready in {seconds:.1f} s "
          f"({index.nbytes / 1e6:.1f} MB): {cache_file(session.archive, session.extractor)}")
    for message in list(index.failed.values())[:10]:
        print(f"  not indexed: {message}")
    if len(index.failed) > 10:
        print(f"  ... and {len(index.failed) - 10} more images could not be read")
    return EXIT_OK


def run_info(args: argparse.Namespace) -> int:
    from ..archive import dx_label, dx_type_label, open_archive

    with open_archive(args.archive) as archive:
        summary = archive.summary()
    if args.json:
        print(json.dumps(summary))
        return EXIT_OK
    print(f"Archive:   {summary['archive']}")
    print(f"Metadata:  {summary['metadata']}")
    print(f"Images in: {summary['layout']}")
    print(f"{summary['images']:,} images of {summary['lesions']:,} lesions; "
          f"{summary['missing_images']:,} missing; {summary['unlisted_files']:,} unlisted files ignored")
    for title, key, label in (("Diagnosis", "by_dx", dx_label), ("Confirmed by", "by_dx_type", dx_type_label),
                              ("Sex", "by_sex", str), ("Dataset", "by_dataset", str),
                              ("Body site", "by_localization", str)):
        print(f"\n{title}:")
        for code, n in summary[key].items():
            print(f"  {label(code):<45} {n:>6,}")
    for note in summary["notes"]:
        print(f"Note: {note}")
    return EXIT_OK
