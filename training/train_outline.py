"""Train the lesion-outline network on HAM10000's published masks, lesion-grouped, and export it to ONNX.

    python -m training outline --archive ../shared/data/ham10000 --masks ../shared/data/ham10000/segmentations \
        --holdout-fold 0 --epochs 8 --out training/work/outline-fold0.onnx

A U-Net-shaped decoder on EfficientNet-Lite0 (ImageNet weights, the same backbone as the embedding), all
of it trained, on the archive's images squashed to outline.INPUT_SHAPE. The masks are for training and
checking only; a new image never has one. The held-out fold is the embedding's (learned.HELD_OUT_FOLDS,
learned.HELD_OUT_SEED), so a lesion held out there is held out here too. Figures come from
``benchmarks/bench_outline.py``, which scores the exported file through dermview.model.outline.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from dermview.archive import Archive
from dermview.model import learned, outline
from dermview.model.tuning import held_out_split

log = logging.getLogger("train_outline")

# After these EfficientNet-Lite0 blocks the decoder taps the encoder: strides 2, 4, 8, 16 and 32.
TAPS = (0, 2, 4, 10, 15)
DECODER = (96, 64, 40, 24)  # channels at strides 16, 8, 4, 2


def build_network():
    import torch
    import torch.nn.functional as F
    from torch import nn

    from .embedding_network import load_backbone

    net = load_backbone(outline.INPUT_SHAPE, "lite0")

    def conv(inputs: int, outputs: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(inputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs),
                             nn.ReLU(inplace=True))

    class OutlineNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.bn, self.act = net._conv_stem, net._bn0, net._swish
            self.blocks = nn.ModuleList(net._blocks[: TAPS[-1] + 1])
            widths = [self.blocks[i]._project_conv.out_channels for i in TAPS]  # 16, 24, 40, 112, 320
            deep = widths[-1]
            ups = []
            for skip, out in zip(reversed(widths[:-1]), DECODER):
                ups.append(nn.Sequential(conv(deep + skip, out), conv(out, out)))
                deep = out
            self.ups = nn.ModuleList(ups)
            self.head = nn.Conv2d(deep, 1, 1)

        def forward(self, x):
            size = x.shape[-2:]
            x = self.act(self.bn(self.stem(x)))
            taps = []
            for i, block in enumerate(self.blocks):
                rate = 0.2 * i / 16 if self.training else None
                x = block(x, drop_connect_rate=rate)
                if i in TAPS:
                    taps.append(x)
            d = taps[-1]
            for skip, up in zip(reversed(taps[:-1]), self.ups):
                d = F.interpolate(d, size=skip.shape[-2:], mode="bilinear", align_corners=False)
                d = up(torch.cat([d, skip], dim=1))
            return F.interpolate(self.head(d), size=size, mode="bilinear", align_corners=False)

    class Exported(nn.Module):
        """What dermview runs: the probability that each input pixel is lesion."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return torch.sigmoid(self.inner(x))

    return OutlineNet(), Exported


# -- data -----------------------------------------------------------------------------------------

def load_pairs(archive: Archive, masks: Path, ids) -> tuple[np.ndarray, np.ndarray]:
    """(N, 150, 200, 3) uint8 images and (N, 150, 200) bool masks, at the archive's 200x150."""
    images = np.empty((len(ids), 150, 200, 3), np.uint8)
    truth = np.empty((len(ids), 150, 200), bool)
    for n, image_id in enumerate(ids):
        image = archive.load_image(image_id).convert("RGB")
        if image.size != (200, 150):
            image = image.resize((200, 150), Image.Resampling.BILINEAR)
        images[n] = np.asarray(image)
        truth[n] = outline.read_mask(masks / f"{image_id}_segmentation.png", (200, 150))
    return images, truth


def augment_pair(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator):
    """A training copy of (H, W, 3) uint8 and (H, W) bool, as another dermatoscope might have taken it:
    magnified 0.75-1.35 times (below 1: skin mirrored outward), flipped, colour-cast and jittered, and with
    some chance blurred, vignetted or behind a dark round frame (what the frame hides is not lesion)."""
    h, w = mask.shape
    zoom = rng.uniform(0.75, 1.35)
    if zoom < 1:
        py, px = int(h * (1 / zoom - 1) / 2), int(w * (1 / zoom - 1) / 2)
        image = np.pad(image, ((py, py), (px, px), (0, 0)), mode="reflect")
        mask = np.pad(mask, ((py, py), (px, px)), mode="reflect")
    else:
        ch, cw = int(h / zoom), int(w / zoom)
        y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        image, mask = image[y0:y0 + ch, x0:x0 + cw], mask[y0:y0 + ch, x0:x0 + cw]
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    if rng.random() < 0.5:
        image, mask = image[::-1], mask[::-1]
    picture = Image.fromarray(np.ascontiguousarray(image)).resize((w, h), Image.Resampling.BILINEAR)
    mask = np.asarray(Image.fromarray(np.ascontiguousarray(mask).astype(np.uint8) * 255)
                      .resize((w, h), Image.Resampling.BILINEAR)) >= 128
    picture = ImageEnhance.Brightness(picture).enhance(rng.uniform(0.8, 1.2))
    picture = ImageEnhance.Contrast(picture).enhance(rng.uniform(0.8, 1.2))
    picture = ImageEnhance.Color(picture).enhance(rng.uniform(0.8, 1.2))
    if rng.random() < 0.3:
        picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.5)))
    x = np.asarray(picture, np.float32) / 255.0
    x = np.power(np.clip(x * rng.uniform(0.8, 1.2, 3), 0, 1), rng.uniform(0.8, 1.25))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2))
    if rng.random() < 0.3:
        x *= (1 - rng.uniform(0.2, 0.5) * np.clip(r / 1.414, 0, 1) ** 2)[..., None]
    if rng.random() < 0.3:
        ax, ay = rng.uniform(0.85, 1.2), rng.uniform(0.85, 1.35)
        ring = np.hypot((xx - w / 2) / (ax * w / 2), (yy - h / 2) / (ay * h / 2))
        lit = np.clip((1.0 - ring) / 0.04 + 1.0, 0, 1)
        x *= lit[..., None] * (1 - rng.uniform(0, 0.1))
        mask = mask & (lit > 0.5)
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8), mask


def batch_input(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 at any size -> the network's float32 (N, 3, h, w), as dermview prepares a query."""
    return learned.to_network_input(np.stack([outline.prepare(Image.fromarray(im)) for im in images]))


def batch_masks(masks: np.ndarray) -> np.ndarray:
    width, height = outline.INPUT_SHAPE
    return np.stack([np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((width, height),
                                                                                  Image.Resampling.BILINEAR)) >= 128
                     for m in masks]).astype(np.float32)[:, None]


# -- training -------------------------------------------------------------------------------------

def train(args) -> None:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    archive = Archive.open(args.archive)
    meta = archive.metadata[archive.metadata["available"]].reset_index(drop=True)
    ids = meta["image_id"].to_numpy()
    if args.holdout_fold is None:
        train_idx = np.arange(len(ids))
    else:
        train_idx, _ = held_out_split(meta["dx"].to_numpy(), meta["lesion_id"].to_numpy(), args.holdout_fold,
                                      learned.HELD_OUT_FOLDS, learned.HELD_OUT_SEED)
    if args.limit:
        train_idx = train_idx[: args.limit]
    log.info("reading %d training images and masks", len(train_idx))
    images, masks = load_pairs(archive, Path(args.masks), ids[train_idx])
    model, Exported = build_network()
    encoder = [p for n, p in model.named_parameters() if not n.startswith(("ups", "head"))]
    decoder = [p for n, p in model.named_parameters() if n.startswith(("ups", "head"))]
    optimiser = torch.optim.AdamW([{"params": encoder, "lr": args.lr * 0.3}, {"params": decoder, "lr": args.lr}],
                                  weight_decay=1e-4)
    steps = args.epochs * math.ceil(len(train_idx) / args.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=[args.lr * 0.3, args.lr], total_steps=steps,
                                                   pct_start=0.1)
    rng = np.random.default_rng(args.seed)
    start, step = time.perf_counter(), 0
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(len(train_idx))
        total = 0.0
        for s in range(0, len(order), args.batch):
            pick = order[s:s + args.batch]
            pairs = [augment_pair(images[i], masks[i], rng) for i in pick]
            x = torch.from_numpy(batch_input(np.stack([p[0] for p in pairs])))
            y = torch.from_numpy(batch_masks(np.stack([p[1] for p in pairs])))
            logits = model(x)
            prob = torch.sigmoid(logits)
            overlap = (prob * y).sum(dim=(1, 2, 3))
            union = (prob + y - prob * y).sum(dim=(1, 2, 3))
            loss = F.binary_cross_entropy_with_logits(logits, y) + (1 - (overlap + 1) / (union + 1)).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(pick)
            step += 1
            if step % 50 == 0:
                elapsed = time.perf_counter() - start
                log.info("epoch %d step %d/%d loss %.4f  %.0f s elapsed, about %.0f s to go", epoch + 1, step, steps,
                         float(loss), elapsed, elapsed / step * (steps - step))
        log.info("epoch %d: mean loss %.4f", epoch + 1, total / len(order))
        torch.save(model.state_dict(), Path(args.out).with_suffix(".pt"))
    export(model, Exported, Path(args.out))
    write_sidecar(Path(args.out), args, len(train_idx), time.perf_counter() - start)


VERSION = "outline-lite0-unet-192x144-v1"


def write_sidecar(path: Path, args, n_train: int, seconds: float) -> None:
    """The network's facts beside it (keeping what benchmarks/bench_outline.py and outline_references.py
    added to an earlier sidecar of the same name)."""
    import json

    from dermview.outputs import atomic_file

    sidecar = path.with_suffix(".json")
    card = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
    card.update(version=VERSION, input_size=list(outline.INPUT_SHAPE), held_out_fold=args.holdout_fold,
                held_out_split={"folds": learned.HELD_OUT_FOLDS, "seed": learned.HELD_OUT_SEED, "grouped_by": "lesion_id"},
                trained_on=(f"{n_train} archive images and their published masks"
                            + ("" if args.holdout_fold is None else f", every lesion but fold {args.holdout_fold}'s")),
                epochs=args.epochs, batch=args.batch, learning_rate=args.lr, seed=args.seed,
                train_minutes=round(seconds / 60))
    with atomic_file(sidecar) as handle:
        handle.write(json.dumps(card, indent=1) + "\n")


def export(model, Exported, path: Path) -> None:
    import onnxruntime as ort
    import torch

    from .embedding_network import store_weights_as_fp16

    exported = Exported(model).eval()
    width, height = outline.INPUT_SHAPE
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(exported, torch.zeros(1, 3, height, width), str(path), input_names=["image"],
                      output_names=["lesion"], dynamic_axes={"image": {0: "n"}, "lesion": {0: "n"}},
                      opset_version=17, dynamo=False)
    store_weights_as_fp16(path)
    check = torch.rand(2, 3, height, width) * 2 - 1
    with torch.no_grad():
        expected = exported(check).numpy()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": check.numpy()})[0]
    log.info("ONNX export %s (%.1f MB); largest difference from PyTorch %.2e", path, path.stat().st_size / 1e6,
             float(np.abs(expected - got).max()))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", required=True)
    parser.add_argument("--masks", required=True, help="the folder of ISIC_*_segmentation.png masks")
    parser.add_argument("--holdout-fold", type=int, default=None, help="leave this lesion-grouped fold out (0-4)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="train on this many images only (a smoke run)")
    parser.add_argument("--out", required=True, help="the .onnx to write (a .pt of the weights beside it)")
    parser.add_argument("--export-only", metavar="PT", help="export these saved weights to --out, no training")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.export_only:
        import torch

        model, Exported = build_network()
        model.load_state_dict(torch.load(args.export_only))
        export(model, Exported, Path(args.out))
        return
    train(args)


if __name__ == "__main__":
    main()
