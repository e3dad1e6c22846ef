"""`gd demo` section: brain extraction by a 3D U-Net trained on one person (Colin27) and applied to
another (ITK's T1), with the loss curve and the result drawn on the real images."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..progress import training_progress
from ..volume import Volume
from .inference import load_model, predict
from .metrics import evaluate
from .preprocess import model_grid
from .sample import brain_extraction, itk_t1
from .sample_brain import test_cases

SHIPPED = "brain-extraction-t1"

QUICK = {"epochs": 80, "samples_per_case": 4}     # about 30 s of training on 2 cores
FULL = {"epochs": 300, "samples_per_case": 8}     # about 7 min


def _loss_figure(history: list[dict], path: Path) -> None:
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.2))
    epochs, loss = [h["epoch"] for h in history], np.array([h["loss"] for h in history])
    ax.plot(epochs, loss, lw=0.8, alpha=0.5, label="per epoch")
    k = max(len(loss) // 15, 1)   # a running mean shows the trend through the patch-to-patch noise
    ax.plot(epochs[k - 1:], np.convolve(loss, np.ones(k) / k, "valid"), lw=1.5, label=f"mean of {k}")
    ax.legend()
    ax.set(xlabel="epoch", ylabel="Dice + cross-entropy loss", yscale="log", title="Training on Colin27")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _overlay_figure(pred: Volume, path: Path) -> None:
    """Axial, coronal and sagittal slices through the test head: truth in green, prediction in red."""
    import matplotlib.pyplot as plt
    case = itk_t1()
    grid = model_grid(case.image, (1.0, 1.0, 1.0))   # 1 mm, LPS-aligned: slices look as in a viewer
    image = case.image.resample_to(grid).array
    truth, mask = (v.resample_to(grid, "nearest").array > 0 for v in (case.label, pred))
    centre = [int(np.mean(ix)) for ix in np.nonzero(truth)]
    views = [("axial", lambda a: a[centre[0]]), ("coronal", lambda a: a[::-1, centre[1]]),
             ("sagittal", lambda a: a[::-1, :, centre[2]])]
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.4))
    for ax, (name, cut) in zip(axes, views):
        ax.imshow(cut(image), cmap="gray")
        ax.contour(cut(truth), levels=[0.5], colors="lime", linewidths=1)
        ax.contour(cut(mask), levels=[0.5], colors="red", linewidths=1)
        ax.set_title(name)
        ax.axis("off")
    fig.suptitle("ITK T1 (another person): truth (green), U-Net trained on Colin27 (red)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _shipped_model_section() -> list[str]:
    """The model shipped with the extension on the unseen head in the forms users feed it: what a user gets
    from `gd segment predict --model brain-extraction-t1` or the Segment panel's default, without training."""
    from ..models.resolve import resolve_model
    model, card = load_model(resolve_model(SHIPPED, "segment"))
    rows = []
    for case in test_cases():
        s = evaluate(predict(model, card, case.image, largest_component=True), case.label, card["labels"])
        rows.append(f"| {case.name} | {s['dice']:.4f} | {s['iou']:.4f} | {s['hd95']:.2f} |")
    return ["### The shipped model", "",
            f"`{SHIPPED}` ships with the extension (trained by `scripts/train_brain_model.py` on Colin27 with "
            "skull-stripped, synthesised-contrast and cropped variants). On the same unseen head as acquired, "
            "skull-stripped, with another T1 contrast and with the top of the head cut off:", "",
            "```", f"gd segment predict --model {SHIPPED} head.nii.gz --out seg/ --largest-component", "```", "",
            "| test case | Dice | IoU | HD95 (mm) |", "| --- | --- | --- | --- |", *rows, ""]


def run(out: Path, quick: bool) -> str:
    work = Path(out) / "segment"
    work.mkdir(parents=True, exist_ok=True)
    run_ = brain_extraction(work, **(QUICK if quick else FULL), on_event=training_progress("segment train"))
    _loss_figure(run_["history"], work / "loss.png")
    _overlay_figure(run_["prediction"], work / "brain_extraction.png")
    t, tr = run_["test"], run_["train"]
    return "\n".join([
        "## Segmentation: brain extraction with a 3D U-Net", "",
        "A MONAI U-Net is trained by the shared gradient-descent engine on one T1 head (Colin27, `mricron-data`, "
        "brain = `ch2bet > 0`) with augmentation, then extracts the brain of another person (ITK's "
        "`KmeansTest_T1UCharRaw`, truth = `KmeansTest_T1RawSkullStrip > 0`).", "",
        "```", *run_["commands"], "```", "",
        f"Training: {tr['epochs']} epochs in {tr['seconds']:.0f} s, final loss {tr['final_loss']:.4f}.", "",
        "| test case | Dice | IoU | HD95 (mm) |", "| --- | --- | --- | --- |",
        f"| ITK T1 | {t['dice']:.4f} | {t['iou']:.4f} | {t['hd95']:.2f} |", "",
        "![loss](segment/loss.png)", "", "![brain extraction](segment/brain_extraction.png)", "",
        *_shipped_model_section()])
