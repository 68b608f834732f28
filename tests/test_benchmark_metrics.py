"""Benchmark statistics in vizecg.metrics: thresholds, bootstrap intervals, paired comparisons, numpy twins."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from vizecg import metrics as M


def _scores(seed: int = 0, n: int = 60, c: int = 3, signal: float = 0.4):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, c)) < 0.35).astype(int)
    y[0], y[1] = 1, 0  # every class has both outcomes
    p = np.clip(signal * y + rng.random((n, c)) * (1 - signal), 0, 1)
    return p, y


def test_bootstrap_interval_contains_point_estimate_and_is_seeded():
    p, y = _scores()
    res = M.bootstrap_metric(M.fast_macro_auroc, y, {"a": p}, n_resamples=300, seed=3)
    s = res["models"]["a"]
    assert s["point"] == pytest.approx(M.macro_auroc(p, y))
    assert s["lo"] < s["point"] < s["hi"]
    assert s["n"] == 300
    again = M.bootstrap_metric(M.fast_macro_auroc, y, {"a": p}, n_resamples=300, seed=3)
    assert again == res  # same seed, same resamples, same interval
    other = M.bootstrap_metric(M.fast_macro_auroc, y, {"a": p}, n_resamples=300, seed=4)
    assert other["models"]["a"]["lo"] != s["lo"]


def test_paired_difference_of_identical_models_is_zero_and_ratio_one():
    p, y = _scores(1)
    q, _ = _scores(2)  # a different, weaker model on the same targets
    res = M.bootstrap_metric(M.fast_macro_auroc, y, {"a": p, "b": p.copy(), "c": q},
                             pairs=[("a", "b", "diff"), ("a", "b", "ratio"), ("a", "c", "diff")], n_resamples=200)
    assert res["pairs"]["a-b"] == {"point": 0.0, "lo": 0.0, "hi": 0.0, "n": 200}
    assert res["pairs"]["a/b"]["lo"] == res["pairs"]["a/b"]["hi"] == 1.0
    d = res["pairs"]["a-c"]
    assert d["point"] == pytest.approx(res["models"]["a"]["point"] - res["models"]["c"]["point"])
    # paired on the same resamples: the difference's interval is narrower than the two intervals' spread
    assert d["hi"] - d["lo"] < (res["models"]["a"]["hi"] - res["models"]["c"]["lo"])


def test_grouped_bootstrap_resamples_whole_records():
    groups = np.array(["r1", "r1", "r2", "r3", "r3", "r3"])
    for rows in M.bootstrap_indices(6, 50, seed=0, groups=groups):
        picked = groups[rows]
        for g in ("r1", "r3"):  # a record's pages always come together
            assert (picked == g).sum() % (groups == g).sum() == 0


def test_thresholds_are_chosen_on_validation_and_applied_to_test():
    # validation: positives score >= 0.3, negatives <= 0.2 -> the F1-best threshold lies between 0.2 and 0.3
    val_p = np.array([[0.05], [0.1], [0.2], [0.3], [0.4], [0.9]])
    val_y = np.array([[0], [0], [0], [1], [1], [1]])
    thr = M.choose_thresholds(val_p, val_y)
    assert 0.2 < thr[0] <= 0.3
    # test: at 0.5 the 0.25/0.35 positives would be missed; the validation threshold keeps them
    test_p = np.array([[0.1], [0.15], [0.25], [0.35], [0.6]])
    test_y = np.array([[0], [0], [1], [1], [1]])
    assert M.thresholded_metrics(test_p, test_y, thr)["macro_f1"] == pytest.approx(1.0)
    assert M.thresholded_metrics(test_p, test_y, 0.5)["recall"] == pytest.approx(1 / 3)
    # a class with one outcome only on validation keeps the default threshold
    assert M.choose_thresholds(np.array([[0.2], [0.7]]), np.array([[0], [0]]))[0] == 0.5


def test_numpy_twins_equal_scikit_learn_with_ties():
    for seed in range(5):
        p, y = _scores(seed, n=40, c=4)
        p = np.round(p, 1)  # many ties
        for c in range(4):
            assert M.fast_per_class_auroc(p, y)[c] == pytest.approx(roc_auc_score(y[:, c], p[:, c]))
            assert M.fast_per_class_auprc(p, y)[c] == pytest.approx(average_precision_score(y[:, c], p[:, c]))
        thr = np.random.default_rng(seed).random(4)
        fast, ref = M.fast_thresholded_metrics(p, y, thr), M.thresholded_metrics(p, y, thr)
        assert fast == pytest.approx(ref)
    y1 = np.zeros((5, 1))
    assert np.isnan(M.fast_per_class_auroc(np.random.rand(5, 1), y1)[0])
