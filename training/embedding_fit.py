"""The training loop: the balanced objective and checkpoints that resume."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np

from .embedding_network import LABEL_SMOOTHING, N_CLASSES, RECIPE, Architecture, build_modules

log = logging.getLogger("train_embedding")

# -- training ------------------------------------------------------------------------------------

def save_checkpoint(path: Path, state: dict) -> None:
    """Atomic: a run killed while writing keeps the previous checkpoint."""
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def objective_weights(train_labels: np.ndarray, train_sources: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(each training image's sampling probability (N,), each class's cross-entropy weight (C,)) for the
    training images' labels (N,): square-root class-balanced sampling times square-root class weights,
    so every diagnosis weighs the same in the expected loss.

    With ``train_sources`` (N,), each diagnosis's draws are also shared between the sources that hold it in
    proportion to the square root of their counts, so that one source's naevi cannot drown another's (and
    a source's seven dermatofibromas are not shown as often as another's hundred)."""
    counts = np.bincount(train_labels, minlength=N_CLASSES).astype(float)
    present = counts > 0
    inv_sqrt = np.where(present, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0)
    sample_p = inv_sqrt[train_labels]
    if train_sources is not None:
        _, source = np.unique(train_sources, return_inverse=True)
        cell = train_labels * (source.max() + 1) + source
        in_cell = np.bincount(cell)[cell].astype(float)  # (N,) images of this diagnosis from this source
        # Each source's part of its diagnosis's draws, sqrt-proportional to its count (summing to 1 over them).
        spread = np.bincount(train_labels, weights=1.0 / np.sqrt(in_cell), minlength=N_CLASSES)
        part = 1.0 / np.sqrt(in_cell) / spread[train_labels] * in_cell
        # The diagnosis keeps its square-root mass (sqrt of its count); its sources split it by ``part``.
        sample_p = np.sqrt(counts[train_labels]) * part / in_cell
    sample_p /= sample_p.sum()
    class_weight = inv_sqrt / (inv_sqrt[present] * counts[present]).sum() * counts[present].sum()
    return sample_p, class_weight


def train(acts: np.ndarray, labels: np.ndarray, train_idx: np.ndarray, *, steps: int, batch: int, seed: int,
          log_every: int = 25, checkpoint: Path | None = None, checkpoint_every: int = 100,
          stop_after: int | None = None, arch: Architecture = RECIPE, sources: np.ndarray | None = None):
    """Train the late blocks; with ``checkpoint``, resumable: every ``checkpoint_every`` steps the
    weights, the optimiser and both random generators are saved there, and a run started again with
    the same arguments continues from the last one (the same batches as an uninterrupted run).
    ``stop_after``: end this sitting after that step (checkpointed); returns None then. ``sources`` (N,):
    each image's source, to share each diagnosis's draws between sources (objective_weights)."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed + 1)
    _, late, classifier, Full = build_modules(arch)
    late.to(memory_format=torch.channels_last)
    sample_p, class_weight = objective_weights(labels[train_idx], None if sources is None else sources[train_idx])
    class_weight = torch.tensor(class_weight, dtype=torch.float32)

    pretrained = [p for m in (late.blocks, late.head, late.bn) for p in m.parameters()]
    fresh = list(late.embed.parameters()) + list(classifier.parameters())
    opt = torch.optim.AdamW([{"params": pretrained, "lr": 4e-4}, {"params": fresh, "lr": 1.5e-3}],
                            weight_decay=1e-4)
    base = [g["lr"] for g in opt.param_groups]
    warmup = max(1, steps // 20)
    copies = acts.shape[0]
    first = 0
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        late.load_state_dict(state["late"])
        classifier.load_state_dict(state["classifier"])
        opt.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        first = state["step"]
        log.info("resuming from %s at step %d/%d", checkpoint, first, steps)
    def cross_entropy(logits, target):
        return F.cross_entropy(logits, target, weight=class_weight, label_smoothing=LABEL_SMOOTHING)

    late.train()
    classifier.train()
    start = time.perf_counter()
    seen = correct = 0
    loss_sum = 0.0
    for step in range(first, steps):
        scale = (step + 1) / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * (step - warmup) / (steps - warmup)))
        for g, lr in zip(opt.param_groups, base):
            g["lr"] = lr * scale
        pick = train_idx[rng.choice(len(train_idx), size=batch, p=sample_p)]
        copy = rng.integers(0, copies, size=batch)
        order = np.lexsort((pick, copy))  # reading the memmap in file order is faster
        pick, copy = pick[order], copy[order]
        x = torch.from_numpy(np.asarray(acts[copy, pick], dtype=np.float32))
        # The cached copies were already cropped/rotated/jittered; flipping the activation maps
        # as well costs nothing and doubles the variety.
        if rng.random() < 0.5:
            x = torch.flip(x, dims=(3,))
        x = x.contiguous(memory_format=torch.channels_last)
        y = torch.from_numpy(labels[pick].astype(np.int64))
        logits = classifier(late(x))
        loss = cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += batch
        correct += int((logits.argmax(1) == y).sum())
        loss_sum += float(loss.detach()) * batch
        if (step + 1) % log_every == 0 or step + 1 == steps:
            elapsed = time.perf_counter() - start
            done = step + 1 - first
            log.info("step %d/%d  loss %.3f  batch accuracy %.3f  %.1f images/s  %.0f s elapsed, about %.0f s to go",
                     step + 1, steps, loss_sum / seen, correct / seen, done * batch / elapsed,
                     elapsed, elapsed / done * (steps - step - 1))
            seen = correct = 0
            loss_sum = 0.0
        stopping = stop_after is not None and step + 1 >= stop_after and step + 1 < steps
        if checkpoint is not None and ((step + 1) % checkpoint_every == 0 or step + 1 == steps or stopping):
            save_checkpoint(checkpoint, {"late": late.state_dict(), "classifier": classifier.state_dict(),
                                         "optimizer": opt.state_dict(), "numpy_rng": rng.bit_generator.state,
                                         "torch_rng": torch.get_rng_state(), "step": step + 1})
        if stopping:
            log.info("stopping after step %d of %d; the same command resumes", step + 1, steps)
            return None
    late.eval()
    return late, Full


