"""The kernel-LDA projection: numpy re-implementation equals scikit-learn's, and it helps KNN."""

from __future__ import annotations

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.kernel_approximation import Nystroem

from dermview.model import projection
from dermview.model.projection import Projection, fit_kernel_lda


def pairwise(x):
    return np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))


def test_matches_scikit_learn(small_model):
    archive, index, predictor = small_model
    features, labels = index.features[:600].astype(np.float64), predictor.labels[:600]
    ours = fit_kernel_lda(features, labels, components=200, raw_weight=0.0)
    z = ours.standardise(features).astype(np.float64)
    nystroem = Nystroem(gamma=projection.GAMMA_SCALE / z.shape[1], n_components=200, random_state=0).fit(z)
    mapped = nystroem.transform(z)
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(mapped, labels)
    rank = len(np.unique(labels)) - 1
    reference = (mapped @ lda.scalings_)[:, :rank]
    mine = ours.transform(features)[:, :rank]
    # eigenvectors are defined up to sign: compare the geometry, i.e. all pairwise distances
    assert np.allclose(pairwise(mine[:150]), pairwise(reference[:150]), rtol=1e-3, atol=1e-3)


def test_round_trip_through_arrays(small_model):
    archive, index, predictor = small_model
    again = Projection.from_arrays(index.projection.to_arrays())
    assert np.array_equal(again.transform(index.features[:20]), index.projection.transform(index.features[:20]))
    assert np.allclose(index.embedded[:20], index.projection.transform(index.features[:20]), atol=1e-3)


def test_deterministic(small_model):
    archive, index, predictor = small_model
    a = fit_kernel_lda(index.features[:400], predictor.labels[:400], components=100)
    b = fit_kernel_lda(index.features[:400], predictor.labels[:400], components=100)
    assert np.array_equal(a.transform(index.features[:10]), b.transform(index.features[:10]))


def test_ledoit_wolf_matches_scikit_learn():
    from sklearn.covariance import ledoit_wolf as reference

    rng = np.random.default_rng(3)
    for n, d in ((500, 40), (30, 60), (2, 5)):
        x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
        assert np.allclose(projection.ledoit_wolf(x), reference(x)[0], rtol=1e-6, atol=1e-8)


def test_the_fit_runs_its_decompositions_on_one_blas_thread(monkeypatch):
    """Two spinning BLAS threads crawl on a busy machine (model/projection.py measures 17 s against 1.6 s)."""
    from threadpoolctl import threadpool_info

    seen = []
    real_eigh = np.linalg.eigh

    def spy(*args, **kwargs):
        seen.append({info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"})
        return real_eigh(*args, **kwargs)

    monkeypatch.setattr(np.linalg, "eigh", spy)
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(120, 6)), np.arange(120) % 3
    fit_kernel_lda(features, labels, components=50)
    assert seen and all(threads == {1} for threads in seen)


def test_a_combined_space_keeps_the_embedding_and_puts_the_projected_rest_beside_it_at_its_weight():
    """projection.fit_combined (the learned similarity's space): the leading columns pass unchanged, the
    kernel-LDA projection of the others is scaled to length tail_weight, and the stored arrays give the
    same space back; arrays written before combined spaces existed still load as a plain projection."""
    from dermview.model.projection import fit_combined

    rng = np.random.default_rng(0)
    labels = np.arange(300) % 3
    head = rng.standard_normal((300, 8)).astype(np.float32)
    tail = (rng.standard_normal((300, 12)) + labels[:, None]).astype(np.float32)
    space = fit_combined(np.hstack([head, tail]), labels, passthrough=8, tail_weight=0.5, seed=0)
    out = space.transform(np.hstack([head, tail]))
    np.testing.assert_array_equal(out[:, :8], head)
    np.testing.assert_allclose(np.linalg.norm(out[:, 8:], axis=1), 0.5, rtol=1e-5)
    plain = fit_kernel_lda(tail, labels, seed=0).transform(tail)
    np.testing.assert_allclose(out[:, 8:], 0.5 * plain / np.linalg.norm(plain, axis=1, keepdims=True), atol=1e-5)
    again = Projection.from_arrays(space.to_arrays())
    np.testing.assert_allclose(again.transform(np.hstack([head, tail])), out, atol=1e-6)
    assert not space.is_identity
    old = {k: v for k, v in fit_kernel_lda(tail, labels, seed=0).to_arrays().items()
           if not k.endswith(("passthrough", "tail_weight"))}
    np.testing.assert_allclose(Projection.from_arrays(old).transform(tail), plain, atol=1e-6)
