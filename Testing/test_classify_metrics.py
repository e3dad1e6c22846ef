"""Classification metrics against values worked out by hand."""
import numpy as np
import pytest

from gdbackend.classify.metrics import classification_metrics


def test_binary_metrics_by_hand():
    # labels 0,0,0,1,1 ; p(class 1) 0.1, 0.6, 0.3, 0.8, 0.4 -> predicted 0,1,0,1,0
    p1 = np.array([0.1, 0.6, 0.3, 0.8, 0.4])
    m = classification_metrics(np.stack([1 - p1, p1], 1), np.array([0, 0, 0, 1, 1]))
    assert m["confusion"] == [[2, 1], [1, 1]]
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert m["precision"] == pytest.approx(1 / 2) and m["recall"] == pytest.approx(1 / 2)
    assert m["f1"] == pytest.approx(1 / 2)
    # AUC: of the 6 (positive, negative) pairs, 0.8 beats all 3 negatives, 0.4 beats 0.1 and 0.3 -> 5/6
    assert m["auc"] == pytest.approx(5 / 6)


def test_three_classes_macro_by_hand():
    labels = np.array([0, 1, 2, 2])
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.5, 0.4], [0.2, 0.3, 0.5], [0.1, 0.6, 0.3]])   # predicted 0, 1, 2, 1
    m = classification_metrics(probs, labels)
    assert m["confusion"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    recall = np.array([1, 1, 0.5])
    precision = np.array([1, 0.5, 1])
    assert m["balanced_accuracy"] == pytest.approx(recall.mean()) and m["recall"] == pytest.approx(recall.mean())
    assert m["precision"] == pytest.approx(precision.mean())
    assert m["f1"] == pytest.approx(np.mean(2 * precision * recall / (precision + recall)))
    # one-vs-rest AUCs: class 0: 0.7 above all 3 -> 1; class 1: 0.5 vs 0.2, 0.3 win, vs 0.6 lose -> 2/3;
    # class 2: positives 0.5, 0.3 vs negatives 0.1, 0.4: 0.5 wins 2, 0.3 wins 1 -> 3/4
    assert m["auc"] == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)


def test_perfect_and_single_class():
    assert classification_metrics(np.eye(2)[[0, 1, 1]], np.array([0, 1, 1]))["auc"] == pytest.approx(1.0)
    assert np.isnan(classification_metrics(np.eye(2)[[1, 1]], np.array([1, 1]))["auc"])
