"""`gd demo` section: Faster R-CNN (ResNet-50-FPN) finds lesions inserted into real brains (Colin27 and ITK's
T1) on 2.5D slices, trained by the shared engine and evaluated with FROC and mAP on other brains."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..train import TrainConfig
from .data import truth_boxes
from .metrics import detection_metrics, smaller_than
from .predict import detect_volume
from .sample import lesion_volumes
from .slices import volume_slices
from .train import train_detector

QUICK = {"train": 6, "test": 3, "epochs": 6, "spacing": (1.5, 1.5, 3.0), "size": 160}    # about 90 s on 2 cores
FULL = {"train": 16, "test": 10, "epochs": 12, "spacing": (1.0, 1.0, 2.0), "size": None}


def _figure(history: list[dict], case, boxes: np.ndarray, scores: np.ndarray, card: dict, path: Path) -> None:
    """Loss curve, then axial slices through each true lesion: truth in green, detections in red."""
    import matplotlib.pyplot as plt
    import matplotlib.patches as patches
    truth = truth_boxes(case)
    array, grid = volume_slices(case.image, card)
    origin, spacing = np.asarray(grid.origin), np.asarray(grid.spacing)
    fig, axes = plt.subplots(1, 1 + len(truth), figsize=(3.6 * (1 + len(truth)), 3.6))
    axes = np.atleast_1d(axes)
    axes[0].plot([h["epoch"] for h in history], [h["loss"] for h in history], marker="o")
    axes[0].set(xlabel="epoch", ylabel="Faster R-CNN loss", title="training")
    axes[0].grid(alpha=0.3)

    def draw(ax, box, color, label=""):
        (x0, y0), (x1, y1) = [(np.asarray(p) - origin[:2]) / spacing[:2] for p in (box[:2], box[3:5])]
        ax.add_patch(patches.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color=color, lw=1.2))
        if label:
            ax.text(x0, y0 - 2, label, color=color, fontsize=7)

    for ax, t in zip(axes[1:], truth):
        k = int(np.clip(round(((t[2] + t[5]) / 2 - origin[2]) / spacing[2]), 0, len(array) - 1))
        z = origin[2] + spacing[2] * k
        ax.imshow(array[k], cmap="gray", vmin=0, vmax=1, origin="upper")
        draw(ax, t, "lime")
        for b, s in zip(boxes[:20], scores[:20]):
            if b[2] <= z <= b[5] and s >= 0.1:
                draw(ax, b, "red", f"{s:.2f}")
        ax.set_title(f"z = {z:.0f} mm", fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{case.name}: truth (green), detections scored >= 0.1 (red)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(out: Path, quick: bool) -> str:
    s = QUICK if quick else FULL
    work = Path(out) / "detect"
    work.mkdir(parents=True, exist_ok=True)
    train, test = lesion_volumes(s["train"], seed=1), lesion_volumes(s["test"], seed=2)
    config = TrainConfig(epochs=s["epochs"], optimizer="adam", lr=3e-4, batch_size=4, grad_clip=10.0)
    result, card = train_detector(train, [], config, work / "detector.pt", spacing=s["spacing"], size=s["size"])
    model = result.model.eval()
    predictions = [detect_volume(model, card, c.image) for c in test]
    truths = [truth_boxes(c) for c in test]
    m = detection_metrics(predictions, truths, ignore=smaller_than(truths, 5.0))
    _figure(result.history, test[0], *predictions[0], card, work / "detect.png")
    return "\n".join([
        "## Detection: lesions in real brains with Faster R-CNN", "",
        f"torchvision's Faster R-CNN (ResNet-50-FPN, no downloaded weights) is trained by the shared engine on "
        f"{card['data']['train_slices']} 2.5D slices (3 neighbouring slices as channels, {card['spacing']} mm) of "
        f"{s['train']} brains with inserted lesions; slice boxes are merged into 3D boxes in LPS mm and evaluated "
        f"on {s['test']} other brains (`gd detect train|predict|evaluate` does the same from files).", "",
        f"Training: {len(result.history)} epochs in {result.seconds:.0f} s.", "",
        "| lesions >= 5 mm | sens. @ 1/8 | @ 1/2 | @ 1 | @ 2 | @ 8 FP/volume | CPM | mAP@0.5 | mAP@0.5:0.95 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {int(sum((~i).sum() for i in smaller_than(truths, 5.0)))} | {m['sensitivity@0.125']:.2f} | "
        f"{m['sensitivity@0.5']:.2f} | {m['sensitivity@1']:.2f} | {m['sensitivity@2']:.2f} | {m['sensitivity@8']:.2f} | "
        f"{m['cpm']:.3f} | {m['map50']:.3f} | {m['map']:.3f} |", "",
        "![detection](detect/detect.png)", ""])
