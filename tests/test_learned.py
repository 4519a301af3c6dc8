"""The learned embedding: the shipped ONNX model, its use in the index and KNN, and the fallbacks."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dermview.cli import main
from dermview.errors import DermviewError
from dermview.model import learned
from dermview.model.extractors import choose_features, get_extractor, get_kind

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "dermview" / "resources" / "models" / f"{learned.MODEL_NAME}.onnx"


@pytest.fixture()
def no_model(monkeypatch, tmp_path):
    monkeypatch.setenv(learned.ENV_MODEL, str(tmp_path / "not-installed.onnx"))


@pytest.fixture()
def no_onnxruntime(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # any import of it now raises ImportError


def test_shipped_model_is_present_with_its_card():
    assert SHIPPED.is_file(), "dermview/resources/models/dermview-embedding.onnx is missing"
    card = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert card["held_out_fold"] is None  # the shipped one learned from every image ...
    held = card["held_out_metrics"]  # ... and carries the numbers of a run that did not
    assert held["held_out_fold"] == 0 and held["n_test"] > 1500
    assert 0 <= held["learned"]["balanced_accuracy"] <= 1 and "mel" in held["learned"]["per_class"]
    text = (SHIPPED.parent / "MODEL_CARD.md").read_text()
    for needed in ("CC BY-NC-SA 4.0", "Not a medical device", "EfficientNet-Lite0", "Held-out", "0, 1, 2 together"):
        assert needed.lower() in text.lower(), needed


def test_the_window_quotes_every_held_out_fold_together():
    """The card carries the recipe's three held-out folds; what the app quotes pools their images (each
    image once), and names the folds it comes from."""
    info = learned.model_info(SHIPPED)
    assert [r["held_out_fold"] for r in info.held_out_folds] == [0, 1, 2]
    assert info.held_out["held_out_fold"] == 0 and (info.k, info.prior_power) == (
        info.held_out["learned"]["k"], info.held_out["learned"]["prior_power"])  # the shipped vote: fold 0's choice
    figures = get_kind("learned").held_out()
    assert figures["n"] == sum(r["n_test"] for r in info.held_out_folds) > 6000
    found = sum(r["learned"]["confusion"]["matrix"][4][4] for r in info.held_out_folds)
    melanomas = sum(r["learned"]["per_class"]["mel"]["n"] for r in info.held_out_folds)
    assert figures["per_class"]["mel"]["recall"] == pytest.approx(found / melanomas)
    assert "folds 0, 1 and 2 together" in figures["source"] and "6,010" in figures["source"]
    assert [f["fold"] for f in figures["by_fold"]] == [0, 1, 2]
    # one fold: its own figures, named as such; a damaged entry is left out, not trusted
    card = {"held_out_metrics": info.held_out, "other_held_out_metrics": [None, {"learned": {}}, "fold 3"]}
    assert learned.held_out_reports(card) == (info.held_out,)
    alone = learned.held_out_figures(learned.held_out_reports(card))
    assert alone["accuracy"] == info.held_out["learned"]["accuracy"] and "held-out fold 0:" in alone["source"]
    assert learned.held_out_figures(()) is None


def test_model_loads_and_gives_the_same_vector_twice(data_dir):
    extractor = get_extractor("learned")
    image = Image.open(data_dir / "images" / "ISIC_0024306.jpg").convert("RGB")
    other = Image.open(data_dir / "images" / "ISIC_0024307.jpg").convert("RGB")
    first = extractor.extract(extractor.prepare(image)[None])[0]
    again = get_extractor("learned").extract(np.stack([extractor.prepare(other), extractor.prepare(image)]))
    # the network's 1280 numbers (unit length), then the same image's colour-texture features
    from dermview.model.extractors import ClassicExtractor

    colour = ClassicExtractor().extract(ClassicExtractor().prepare(image)[None])[0]
    assert extractor.passthrough == 1280 and first.shape == (1280 + len(colour),) and first.dtype == np.float32
    assert np.linalg.norm(first[:1280]) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(first[1280:], colour, rtol=1e-4, atol=1e-4)  # the image is small: same decode
    np.testing.assert_allclose(again[1], first, atol=1e-5)  # same image, new session, other batch-mate
    assert np.linalg.norm(again[0] - first) > 0.05  # and a different lesion is somewhere else


def test_originals_land_nearest_their_archive_copies(originals_learned, data_dir):
    """A 600x450 original must find its own 200x150 copy first among about 840 archive images."""
    from dermview.archive.imaging import decode_image
    from dermview.model.knn import nearest

    archive, index = originals_learned
    extractor = get_extractor("learned")
    assert index.extractor == "learned" and index.features.shape[0] == len(archive.metadata)
    assert index.projection.passthrough == 1280 and index.projection.tail_weight == extractor.tail_weight
    np.testing.assert_array_equal(index.embedded[:, :1280], index.features[:, :1280])  # the embedding as it is
    tail = np.linalg.norm(index.embedded[:, 1280:], axis=1)
    np.testing.assert_allclose(tail, extractor.tail_weight, rtol=1e-5)  # the colour-texture part, at its weight
    originals = sorted((data_dir / "originals").glob("*.jpg"))
    batch = np.stack([extractor.prepare(decode_image(p.read_bytes(), p.name, draft_size=extractor.draft_size))
                      for p in originals])
    idx, _ = nearest(index.embedded, index.projection.transform(extractor.extract(batch)), 1)
    found = sum(index.image_ids[i[0]] == p.stem for i, p in zip(idx, originals))
    assert len(originals) == 153
    assert found >= 0.90 * len(originals), f"only {found} of {len(originals)} originals found their copy"


def test_learned_index_predicts_with_the_models_own_k(originals_learned, data_dir):
    from dermview.model.predictor import Predictor

    archive, index = originals_learned
    predictor = Predictor(archive, index)
    info = learned.model_info()
    assert predictor.vote.k == info.k and predictor.vote.prior_power == info.prior_power
    image = Image.open(data_dir / "originals" / "ISIC_0024307.jpg")
    result = predictor.predict_archive_image("ISIC_0024307")
    assert len(result.neighbours) == info.k
    own = predictor.lesion_of("ISIC_0024307")
    assert all(n.lesion_id != own for n in result.neighbours)  # "find similar" leaves its lesion out
    assert sum(result.votes.values()) == pytest.approx(1.0)
    assert predictor.predict_image(image).neighbours[0].image_id == "ISIC_0024307"


def test_fallback_without_model_file(no_model):
    assert "not installed" in learned.availability()
    choice = choose_features("auto")
    assert choice.name == "classic" and "not available" in choice.note
    with pytest.raises(DermviewError, match="not available"):
        choose_features("learned")
    assert choose_features("classic") == choose_features("classic")


def test_fallback_without_onnxruntime(no_onnxruntime):
    reason = learned.availability()
    assert reason is not None and "onnxruntime" in reason
    assert choose_features("auto").name == "classic"


def test_cli_falls_back_with_a_note_and_refuses_an_impossible_request(
        no_model, small_archive, small_model, session_cache, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("DERMVIEW_CACHE_DIR", str(session_cache))
    query = str(data_dir / "originals" / "ISIC_0024307.jpg")
    assert main(["predict", "--archive", str(small_archive), "--json", query]) == 0
    captured = capsys.readouterr()
    assert "Learned features are not available" in captured.err
    assert "prediction" in json.loads(captured.out.splitlines()[0])
    assert main(["predict", "--archive", str(small_archive), "--features", "learned", query]) == 2
    assert "Learned features are not available" in capsys.readouterr().err


def test_evaluate_does_not_pass_in_sample_numbers_off_as_held_out(small_archive, originals_archive, originals_learned,
                                                                   session_cache, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DERMVIEW_CACHE_DIR", str(tmp_path / "fresh"))
    assert main(["evaluate", "--archive", str(small_archive), "--features", "learned"]) == 0
    out = capsys.readouterr().out
    assert "does not" in out and "held out" in out
    card = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert f"{card['held_out_metrics']['learned']['balanced_accuracy']:.3f}" in out
    for report in card["other_held_out_metrics"]:  # every fold the card quotes, and the folds together
        assert f"fold {report['held_out_fold']} held out" in out
        assert f"{report['learned']['balanced_accuracy']:.3f}" in out
    assert "together: 6,010 images" in out
    assert not (tmp_path / "fresh" / "index").exists()  # quoting the card needs no index of the archive
    assert main(["evaluate", "--archive", str(tmp_path / "no-such-archive"), "--features", "learned"]) == 2
    monkeypatch.setenv("DERMVIEW_CACHE_DIR", str(session_cache))
    assert main(["evaluate", "--archive", str(originals_archive), "--features", "learned", "--in-sample",
                 "--folds", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["in_sample"] is True and report["features"] == "learned"


def test_held_out_evaluation_refuses_another_archive(small_archive, tmp_path, capsys):
    model = tmp_path / "fold.onnx"
    model.write_bytes(SHIPPED.read_bytes())
    card = json.loads(SHIPPED.with_suffix(".json").read_text())
    card.update(held_out_fold=0, held_out_split={"folds": 5, "seed": 0, "fingerprint": "0" * 16})
    model.with_suffix(".json").write_text(json.dumps(card))
    assert main(["evaluate", "--archive", str(small_archive), "--model", str(model)]) == 2
    assert "not the one the model's held-out fold was drawn from" in capsys.readouterr().err
    assert main(["evaluate", "--archive", str(small_archive), "--model", str(SHIPPED)]) == 2
    assert "no held-out lesions" in capsys.readouterr().err


@pytest.mark.slow
def test_training_pipeline_smoke(data_dir):
    """A few steps of the documented training command on 80 archive images and a few of another device's
    (--extra-source): caching, training, ONNX export, held-out report. conftest.background_command holds the
    command; it runs in its own process, started in the background as soon as the tests are collected."""
    pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite_pytorch")
    from conftest import TRAINING_SMOKE_TEST, background_result

    status, out, err, folder = background_result(TRAINING_SMOKE_TEST)
    assert status == 0, out[-3000:] + err[-3000:]
    model = folder / "out" / f"{learned.MODEL_NAME}-fold0.onnx"
    card = json.loads(model.with_suffix(".json").read_text())
    from training.embedding_network import INPUT_SIZE

    assert card["held_out_fold"] == 0 and card["steps"] == 3 and card["threads"] == 1
    assert card["loss"] == "ce" and card["embedding_dim"] == 1280
    report = json.loads((folder / "work" / "report-fold0.json").read_text())
    assert report["n_test"] > 0 and 0 <= report["learned"]["accuracy"] <= 1
    # The other device's images were trained on (all of them: no held-out fold of theirs), never searched:
    # the held-out report's reference images are the archive's training lesions alone.
    extra = card["training_sources"]["other-clinic"]
    assert extra and set(extra) <= {"nv", "mel", "bkl", "df"} and all(n == 6 for n in extra.values() if n)
    archive_trained = sum(card["training_sources"]["ham10000"].values())
    assert card["n_train_images"] == report["n_train"] + sum(extra.values())
    assert archive_trained == report["n_train"] + report["n_validation"] + report["n_test"]
    assert "images of other devices (other-clinic)" in card["trained_on"]
    extractor = learned.LearnedExtractor(model)
    assert card["input_size"] == INPUT_SIZE and extractor.input_shape == (INPUT_SIZE, INPUT_SIZE)
    vectors = extractor.embed(
        np.stack([extractor.prepare_network(Image.open(p).convert("RGB"))
                  for p in sorted((data_dir / "images").glob("*.jpg"))[:3]]))
    assert vectors.shape == (3, card["embedding_dim"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert not (ROOT / "dermview" / "resources" / "models" / f"{learned.MODEL_NAME}-fold0.onnx").exists()


@pytest.mark.slow
def test_training_stopped_and_resumed_ends_where_an_uninterrupted_run_does(tmp_path):
    """A run that stops after step 3 and is started again gives the weights of one that never stopped."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite_pytorch")
    from training import embedding_fit, embedding_network as te

    torch.set_num_threads(1)  # as small as this is, more threads only wait for each other
    arch = te.Architecture(input_size=learned.SIDECAR_DEFAULT_INPUT_SIZE)  # the smaller square: quicker
    early, _, _, _ = te.build_modules(arch)
    with torch.no_grad():
        shape = early.eval()(torch.zeros(1, 3, arch.shape[1], arch.shape[0])).shape[1:]
    rng = np.random.default_rng(0)
    acts = rng.standard_normal((2, 40, *shape)).astype(np.float16)  # 2 copies of 40 "images"
    labels = np.arange(40) % len(te.DX_CODES)
    run = {"steps": 5, "batch": 4, "seed": 3, "arch": arch, "checkpoint_every": 2}
    whole, _ = embedding_fit.train(acts, labels, np.arange(40), **run)
    checkpoint = tmp_path / "checkpoint.pt"
    assert embedding_fit.train(acts, labels, np.arange(40), checkpoint=checkpoint, stop_after=3, **run) is None
    assert torch.load(checkpoint, weights_only=False)["step"] == 3
    resumed, _ = embedding_fit.train(acts, labels, np.arange(40), checkpoint=checkpoint, **run)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    fresh, _ = embedding_fit.train(acts, labels, np.arange(40), **{**run, "seed": 4})  # and the weights do depend on the run
    assert any(not torch.equal(a, b) for a, b in zip(whole.state_dict().values(), fresh.state_dict().values()))


@pytest.mark.slow
def test_held_out_model_reproduces_the_model_card(data_dir):
    """The network trained without fold 0 scores on fold 0 what the shipped model card quotes
    (``dermview evaluate --model`` on the whole archive, started in the background by conftest)."""
    from conftest import HELD_OUT_MODEL, HELD_OUT_TEST, background_result

    if not HELD_OUT_MODEL.is_file():
        pytest.fail(f"{HELD_OUT_MODEL} is missing")
    status, out, err, _ = background_result(HELD_OUT_TEST)
    assert status == 0, err[-3000:]
    report = json.loads(out)["learned"]
    card = json.loads(SHIPPED.with_suffix(".json").read_text())["held_out_metrics"]["learned"]
    assert report["k"] == card["k"] and report["prior_power"] == card["prior_power"]
    assert report["accuracy"] == pytest.approx(card["accuracy"], abs=0.005)
    assert report["balanced_accuracy"] == pytest.approx(card["balanced_accuracy"], abs=0.005)


def test_tuning_from_several_reports_votes_with_the_first_and_tables_them_all(tmp_path):
    """--tuning-from R0 R1 R2: the model votes with R0's k and prior power; the card tables every fold
    and the folds together; a fold given twice is refused with a sentence."""
    pytest.importorskip("torch")
    from training import embedding_card as te

    reports = learned.model_info(SHIPPED).held_out_folds
    paths = []
    for report in reversed(reports):  # fold 2 first: its choice must become the model's
        paths.append(tmp_path / f"report-fold{report['held_out_fold']}.json")
        paths[-1].write_text(json.dumps(report))
    sidecar: dict = {}
    te.attach_held_out(sidecar, paths)
    assert sidecar["held_out_metrics"]["held_out_fold"] == 2
    assert (sidecar["k"], sidecar["prior_power"]) == (reports[2]["learned"]["k"], reports[2]["learned"]["prior_power"])
    assert [r["held_out_fold"] for r in learned.held_out_reports(sidecar)] == [0, 1, 2]
    table = te.every_fold_table(learned.held_out_reports(sidecar), 2)
    together = learned.held_out_figures(learned.held_out_reports(sidecar))
    row = next(line for line in table.splitlines() if line.startswith("| **learned similarity**"))
    assert f"| {together['accuracy']:.3f} | {together['balanced_accuracy']:.3f} |" in row and "6,010" in row
    assert "uses fold 2's" in table
    assert te.every_fold_table(reports[:1], 0) == ""  # one fold: the detailed table alone
    with pytest.raises(SystemExit, match="each fold may be given once"):
        te.attach_held_out({}, [paths[0], paths[0]])


def test_the_card_quotes_the_external_check_and_tables_each_part(tmp_path):
    """--card-only --external-report ALL DEV UNREAD: the app quotes the first report, and the card tables every
    part, the unread one labelled as read once."""
    pytest.importorskip("torch")
    from training import embedding_card as te

    heldout = ROOT / "training" / "heldout"
    shutil.copy(SHIPPED.with_suffix(".json"), tmp_path / "model.json")
    reports = [heldout / f"external-{part}.json" for part in ("all", "development", "unread")]
    assert te.rewrite_card(tmp_path / "model.onnx", None, reports) == 0
    sidecar = json.loads((tmp_path / "model.json").read_text())
    quoted = learned.external_figures(sidecar)
    everything = json.loads(reports[0].read_text())["overall"]
    assert quoted["n"] == everything["n"] and quoted["melanoma_auc"] == everything["melanoma_auc"]
    assert "none in HAM10000" in quoted["source"] and "part" not in quoted["source"]
    card = (tmp_path / "MODEL_CARD.md").read_text()
    unread = json.loads(reports[2].read_text())["overall"]
    row = next(line for line in card.splitlines() if line.startswith("| unread part"))
    assert "read once" in row and f"| {unread['n']} |" in row and f"{unread['melanoma_auc']:.3f}" in row


def test_each_diagnosis_is_shared_between_training_sources_by_the_square_root_of_their_counts():
    """objective_weights with sources: a diagnosis keeps the draws it had with one source, and its sources
    split them by the square root of their counts, so HAM10000's naevi are no longer four in five naevi shown."""
    from training.embedding_fit import objective_weights
    from training.embedding_network import DX_CODES

    nv, mel, df = (DX_CODES.index(c) for c in ("nv", "mel", "df"))
    labels = np.repeat([nv, nv, mel, mel, df, df], [6705, 1452, 1113, 568, 115, 7])
    sources = np.repeat(["ham10000", "other", "ham10000", "other", "ham10000", "other"], [6705, 1452, 1113, 568, 115, 7])
    alone, _ = objective_weights(labels)
    shared, weights = objective_weights(labels, sources)
    assert shared.sum() == pytest.approx(1.0)
    for dx in (nv, mel, df):
        assert shared[labels == dx].sum() == pytest.approx(alone[labels == dx].sum())  # the class's share is kept
        ham, other = (shared[(labels == dx) & (sources == s)].sum() for s in ("ham10000", "other"))
        n_ham, n_other = (int(((labels == dx) & (sources == s)).sum()) for s in ("ham10000", "other"))
        assert ham / other == pytest.approx(np.sqrt(n_ham / n_other))
    ham_naevi = (labels == nv) & (sources == "ham10000")
    assert alone[ham_naevi].sum() / alone[labels == nv].sum() > 0.8  # drawn by count: 82% of the naevi shown
    assert shared[ham_naevi].sum() / shared[labels == nv].sum() < 0.7


def test_the_training_objective_weighs_every_diagnosis_alike():
    """embedding_fit.objective_weights: square-root sampling times square-root class weights gives each
    diagnosis the same share of the expected loss, whatever its count."""
    from training.embedding_fit import objective_weights
    from training.embedding_network import N_CLASSES

    labels = np.repeat(np.arange(N_CLASSES), [30, 50, 110, 10, 110, 670, 14])  # HAM10000-like counts
    p, w = objective_weights(labels)
    assert p.sum() == pytest.approx(1.0)
    shares = np.bincount(labels, weights=p * w[labels])
    np.testing.assert_allclose(shares, shares[0])
    assert p[labels == 5].max() < p[labels == 3].min()  # the rare diagnosis is drawn more often per image


def test_a_network_trained_on_another_input_size_is_fed_that_size_and_a_mismatch_is_a_sentence(tmp_path, data_dir):
    """The sidecar's input_size decides the square the extractor squashes images to (a network trained
    with train_embedding --input-size); a sidecar that disagrees with the file's own input is refused."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    def network(side, card_side):
        # mean colour of each channel: three numbers per image, then unit length; side: square or (width, height)
        width, height = (side, side) if isinstance(side, int) else side
        nodes = [helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=0),
                 helper.make_node("LpNormalization", ["mean"], ["embedding"], axis=1, p=2)]
        graph = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, height, width])],
                                  [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", 3])])
        path = tmp_path / f"net-{width}x{height}-{card_side}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
        path.with_suffix(".json").write_text(json.dumps({"version": "t", "input_size": card_side, "embedding_dim": 3,
                                                         "held_out_fold": 0}), encoding="utf-8")
        return path

    image = Image.open(data_dir / "images" / "ISIC_0024306.jpg").convert("RGB")
    extractor = learned.LearnedExtractor(network(40, 40))
    assert extractor.draft_size == (40, 40)
    prepared = extractor.prepare(image)
    from dermview.model.extractors import ClassicExtractor

    colour_length = ClassicExtractor().prepare(image).size
    assert prepared.size == 40 * 40 * 3 + colour_length  # not the recipe's 192 x 192
    vector = extractor.extract(prepared[None])[0]
    assert vector.shape[0] == 3 + len(ClassicExtractor().extract(ClassicExtractor().prepare(image)[None])[0])
    np.testing.assert_allclose(np.linalg.norm(vector[:3]), 1.0, atol=1e-5)
    mismatched = learned.LearnedExtractor(network(40, 48))
    with pytest.raises(DermviewError, match="reads 40x40 images but its description says 48x48"):
        mismatched.extract(mismatched.prepare(image)[None])

    # A rectangle, [width, height] in the sidecar: the image keeps its 4:3 shape, not squashed to a square.
    wide = learned.LearnedExtractor(network((40, 30), [40, 30]))
    assert wide.input_shape == (40, 30) and wide.draft_size == (40, 30)
    assert wide.prepare_network(image).shape == (30, 40, 3)
    # a portrait photograph is turned to lie the network's way, not squashed (a quarter turn of the
    # landscape image, turned back, is the image upside down)
    portrait = image.transpose(Image.Transpose.ROTATE_90)
    np.testing.assert_array_equal(wide.prepare_network(portrait),
                                  wide.prepare_network(image.transpose(Image.Transpose.ROTATE_180)))
    assert learned.prepare_image(portrait, 40).shape == (40, 40, 3)  # a square squashes either way, as before
    np.testing.assert_allclose(np.linalg.norm(wide.extract(wide.prepare(image)[None])[0][:3]), 1.0, atol=1e-5)
    turned = learned.LearnedExtractor(network((30, 40), [40, 30]))  # the file reads portrait images
    with pytest.raises(DermviewError, match="reads 30x40 images but its description says 40x30"):
        turned.extract(turned.prepare(image)[None])
    for nonsense in ("big", [40], [0, 30]):
        path = network(40, nonsense)
        assert "could not be read" in learned.availability(path, load_runtime=False)


def test_the_input_size_is_part_of_what_a_network_is_and_older_cards_were_192():
    from training import embedding_network as te
    from training.train_embedding import input_size_argument

    older = te.Architecture.of_card({})  # a card from before the input size was a setting: 192
    assert older.input_size == 192 and older.version == "effnet-lite0-cut8-192-v1" and older != te.RECIPE
    assert te.Architecture.of_card({"input_size": 256}) == te.RECIPE and te.RECIPE.version == "effnet-lite0-cut8-256-v1"
    assert te.Architecture.of_card({"input_size": [256, 256]}) == te.RECIPE  # a square written as a rectangle
    wide = te.Architecture.of_card({"input_size": [320, 240]})
    assert wide.shape == (320, 240) and not wide.square and wide.sidecar_size == [320, 240]
    assert wide.version == "effnet-lite0-cut8-320x240-v1" != te.Architecture(input_size=320).version
    assert input_size_argument("320x240") == (320, 240) and input_size_argument("256") == 256
    with pytest.raises(argparse.ArgumentTypeError, match="not a size"):
        input_size_argument("wide")


def test_a_rectangular_input_turns_copies_only_in_ways_that_keep_them_landscape(data_dir):
    """Quarter turns would stand a 4:3 image on end and the rectangle would squash it back; the square
    recipe keeps all 8 flips and turns, drawn as before (its cached copies stay reproducible)."""
    from training import embedding_data as te

    image = Image.open(data_dir / "images" / "ISIC_0024306.jpg").convert("RGB")  # 200x150
    rng = np.random.default_rng(0)
    landscape = [te.augment(image, rng, quarter_turns=False).size for _ in range(40)]
    assert all(w >= h for w, h in landscape)
    rng = np.random.default_rng(0)
    square_recipe = [te.augment(image, rng).size for _ in range(40)]
    assert any(w < h for w, h in square_recipe)  # quarter turns still happen for the square


def test_shades_of_grey_takes_out_a_colour_cast_and_is_only_used_by_a_network_trained_with_it(data_dir):
    pixels = learned.prepare_image(Image.open(data_dir / "images" / "ISIC_0024306.jpg").convert("RGB"), 64)
    cast = np.clip(pixels * np.array([0.8, 1.0, 1.1]), 0, 255).astype(np.uint8)  # a cooler camera
    assert (cast[..., 2] < 255).mean() > 0.99  # nothing clipped worth speaking of
    plain, cast_out = learned.shades_of_grey(pixels, 6), learned.shades_of_grey(cast, 6)
    # the cast is gone: up to overall brightness (which shades of grey leaves alone), the two agree far
    # better than the inputs do (rounding and clipping aside)
    def apart(a, b):
        a, b = a.astype(float), b.astype(float)
        return np.abs(a - b * (a * b).sum() / (b * b).sum()).mean()

    assert apart(pixels, cast) > 8 and apart(plain, cast_out) < apart(pixels, cast) / 5
    means = np.power(np.mean(np.power(plain / 255.0, 6), axis=(0, 1)), 1 / 6)
    assert means.max() - means.min() < 0.01  # every channel's power mean is the same now
    image = Image.fromarray(cast)
    assert np.array_equal(learned.prepare_image(image, 64), cast)  # the recipe does not touch colours
    assert np.array_equal(learned.prepare_image(image, 64, 6), cast_out)
