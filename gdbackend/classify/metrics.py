"""Classification metrics from class probabilities: accuracy, balanced accuracy, precision, recall, F1
(of class 1 for two classes, else the mean over classes), ROC AUC (MONAI) and the confusion matrix."""
from __future__ import annotations

import numpy as np
import torch
from monai.metrics import compute_roc_auc

from ..errors import InputError


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows: true class; columns: predicted class."""
    return np.bincount(labels * n_classes + predicted, minlength=n_classes ** 2).reshape(n_classes, n_classes)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros(len(a)), where=b > 0)


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Metrics of (N, C) probabilities against N integer labels; `confusion` is a list of rows."""
    probabilities, labels = np.asarray(probabilities, float), np.asarray(labels, int)
    if probabilities.ndim != 2 or len(probabilities) != len(labels) or not len(labels):
        raise InputError(f"Need (N, C) probabilities for N labels, got {probabilities.shape} and {labels.shape}.")
    n = probabilities.shape[1]
    cm = confusion_matrix(labels, probabilities.argmax(1), n)
    tp = np.diag(cm).astype(float)
    recall, precision = _ratio(tp, cm.sum(1)), _ratio(tp, cm.sum(0))
    f1 = _ratio(2 * precision * recall, precision + recall)
    present = cm.sum(1) > 0
    pick = (lambda v: float(v[1])) if n == 2 else (lambda v: float(v[present].mean()))
    if present.sum() < 2:
        auc = float("nan")   # undefined with a single class
    elif n == 2:
        auc = float(compute_roc_auc(torch.as_tensor(probabilities[:, 1]), torch.as_tensor(labels)))
    else:
        onehot = torch.nn.functional.one_hot(torch.as_tensor(labels), n)
        auc = float(compute_roc_auc(torch.as_tensor(probabilities), onehot, average="macro"))
    return {"accuracy": float(tp.sum() / cm.sum()), "balanced_accuracy": float(recall[present].mean()),
            "precision": pick(precision), "recall": pick(recall), "f1": pick(f1), "auc": auc,
            "confusion": cm.tolist()}
