"""Nothing lost (issue 44): no command writes over one of its own inputs, or over an image it did not make."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from dermview.cli import main


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def clinic(data_dir, tmp_path):
    """A clinic folder: lesion.jpg, l2.jpg and photo.png (real dermoscopy) and an unrelated lesion.png in clash/."""
    folder = tmp_path / "clinic"
    folder.mkdir()
    original = data_dir / "originals" / "ISIC_0024307.jpg"
    for name in ("lesion.jpg", "l2.jpg"):
        (folder / name).write_bytes(original.read_bytes())
    Image.open(original).save(folder / "photo.png")
    clash = tmp_path / "clash"
    clash.mkdir()
    (clash / "lesion.jpg").write_bytes(original.read_bytes())
    Image.new("RGB", (320, 240), (90, 60, 40)).save(clash / "lesion.png")  # the clinic's own picture
    return folder, clash


# (the command's words with {folder} and {clash} filled in, the file that must stay as it was)
OVERWRITES = [
    (["outline", "--out", "{folder}", "{folder}/photo.png"], "{folder}/photo.png"),
    (["outline", "--out", "{clash}", "{clash}/lesion.jpg"], "{clash}/lesion.png"),
    (["report", "--pdf", "{folder}/l2.jpg", "{folder}/l2.jpg"], "{folder}/l2.jpg"),
    (["report", "--pdf", "{folder}/lesion.jpg", "{folder}"], "{folder}/lesion.jpg"),
    (["predict", "--csv", "{folder}/lesion.jpg", "{folder}/lesion.jpg"], "{folder}/lesion.jpg"),
    (["predict", "--isic-csv", "{folder}/l2.jpg", "{folder}/lesion.jpg"], "{folder}/l2.jpg"),
    (["predict", "--csv", "{clash}/lesion.png", "{folder}/lesion.jpg"], "{clash}/lesion.png"),
    (["library", "--library", "sqlite:///{clash}/../cases.sqlite", "export", "{clash}/../cases.sqlite"],
     "{clash}/../cases.sqlite"),
    (["library", "--library", "sqlite:///{clash}/../cases.sqlite", "export", "{folder}/l2.jpg"], "{folder}/l2.jpg"),
]


@pytest.mark.parametrize("words, kept", OVERWRITES, ids=[" ".join(w[:3]) for w, _ in OVERWRITES])
def test_no_command_writes_over_an_input_or_an_image_it_did_not_make(words, kept, clinic, small_archive, capsys):
    folder, clash = clinic
    from dermview.library.store import CaseLibrary

    CaseLibrary(f"sqlite:///{folder.parent / 'cases.sqlite'}").close()  # the practice's library: export's input
    fill = {"folder": str(folder), "clash": str(clash)}
    argv = [w.format(**fill) for w in words]
    if argv[0] in ("report", "predict"):
        argv[1:1] = ["--archive", str(small_archive), "--features", "classic"]
    kept_path = type(folder)(kept.format(**fill))
    before = {p: digest(p) for p in (*folder.iterdir(), *clash.iterdir(), folder.parent / "cases.sqlite")}
    assert main(argv) == 2, argv
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Cannot write" in err and "nothing was written" in err, err
    assert str(kept_path) in err
    if "input" in err:  # names both paths: the output and the input it would have replaced
        assert err.count(str(kept_path)) >= 1
    assert {p: digest(p) for p in (*folder.iterdir(), *clash.iterdir(), folder.parent / "cases.sqlite")} == before


def test_outline_replaces_its_own_masks_and_names_clashing_inputs_apart(clinic, tmp_path, capsys):
    """Run twice into one folder: the second run replaces the masks it made. Two inputs called lesion.* get
    lesion.png and lesion-2.png, and the line says why."""
    folder, clash = clinic
    out = tmp_path / "masks"
    assert main(["outline", "--out", str(out), str(folder / "lesion.jpg"), str(clash / "lesion.jpg")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sorted(p.name for p in out.iterdir()) == ["lesion-2.png", "lesion.png"]
    assert "not lesion.png: another input has that name" in lines[1]
    first = np.asarray(Image.open(out / "lesion.png"))
    assert main(["outline", "--out", str(out), str(folder / "lesion.jpg")]) == 0
    assert np.array_equal(np.asarray(Image.open(out / "lesion.png")), first)


def test_a_screenshot_is_never_written_over_the_image_it_shows(small_archive, data_dir, tmp_path):
    """`dermview --screenshot lesion.jpg lesion.jpg`: refused before the window opens, the image unchanged."""
    import os
    import subprocess
    import sys

    image = tmp_path / "lesion.jpg"
    image.write_bytes((data_dir / "originals" / "ISIC_0024307.jpg").read_bytes())
    before = digest(image)
    result = subprocess.run([sys.executable, "-m", "dermview", "--archive", str(small_archive), "--screenshot",
                             str(image), str(image)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "DERMVIEW_CACHE_DIR": str(tmp_path / "c")})
    assert result.returncode == 2 and "it is the input" in result.stderr, result.stderr
    assert digest(image) == before
