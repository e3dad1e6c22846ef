"""`gd demo` section: a 3D ResNet tells 32 mm patches of real brains with an inserted lesion from patches
without one (Colin27 and ITK's T1, lesions from gdbackend.lesions), trained and evaluated on other brains."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..progress import training_progress
from ..train import TrainConfig
from .metrics import classification_metrics
from .predict import load_classifier, predict_probabilities, prepare_inputs
from .sample import CLASSES, lesion_patches
from .train import train_classifier

QUICK = {"train": 32, "test": 10, "epochs": 10}    # about 40 s of training on 2 cores
FULL = {"train": 96, "test": 32, "epochs": 30}


def _figure(history: list[dict], samples, inputs: np.ndarray, probs: np.ndarray, path: Path) -> None:
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(12, 4.2))
    ax = fig.add_subplot(1, 3, 1)
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["loss"] for h in history], label="training loss (cross-entropy)")
    ax.plot(epochs, [h["auc"] for h in history], label="validation ROC AUC")
    ax.set(xlabel="epoch", title="3D ResNet training")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    order = [*np.flatnonzero([s.label == "present" for s in samples])[:4],
             *np.flatnonzero([s.label == "absent" for s in samples])[:4]]
    for n, i in enumerate(order):
        a = fig.add_subplot(2, 6, 3 + n + 2 * (n // 4))
        a.imshow(inputs[i, 0, inputs.shape[2] // 2], cmap="gray", vmin=0, vmax=1)   # the lesion is near the centre
        a.set_title(f"{samples[i].label}\np(lesion) {probs[i, 1]:.2f}", fontsize=8)
        a.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(out: Path, quick: bool) -> str:
    settings = QUICK if quick else FULL
    work = Path(out) / "classify"
    work.mkdir(parents=True, exist_ok=True)
    train, val = lesion_patches(settings["train"], seed=1), lesion_patches(settings["test"], seed=2)
    config = TrainConfig(epochs=settings["epochs"], optimizer="adam", lr=1e-3, batch_size=16, schedule="cosine",
                         monitor="auc", mode="max")
    result, _ = train_classifier(train, val, config, work / "classifier.pt", network="resnet10", size=(32, 32, 32),
                                 on_event=training_progress("classify train"))
    model, card = load_classifier(work / "classifier.pt")
    inputs = prepare_inputs(val, card)
    probs = predict_probabilities(model, inputs)
    m = classification_metrics(probs, np.array([CLASSES.index(s.label) for s in val]))
    _figure(result.history, val, inputs, probs, work / "classify.png")
    return "\n".join([
        "## Classification: lesion present / absent with a 3D ResNet", "",
        f"Random ellipsoidal lesions (3-20 mm, hyper- and hypo-intense, 10-60 % contrast) are inserted into "
        f"Colin27 and ITK's 3D T1; 32 mm patches around each lesion and elsewhere in the brain are classified by "
        f"a MONAI ResNet-10 trained by the shared engine on {len(train)} patches of {settings['train']} brains and "
        f"tested on {len(val)} patches of {settings['test']} other brains "
        "(`gd classify train|evaluate` does the same from a CSV).", "",
        f"Training: {len(result.history)} epochs in {result.seconds:.0f} s.", "",
        "| ROC AUC | accuracy | balanced accuracy | precision | recall | F1 | confusion (rows: truth) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| {m['auc']:.3f} | {m['accuracy']:.3f} | {m['balanced_accuracy']:.3f} | {m['precision']:.3f} | "
        f"{m['recall']:.3f} | {m['f1']:.3f} | {m['confusion']} |", "",
        "![classification](classify/classify.png)", ""])
