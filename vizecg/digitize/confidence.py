"""Calibrated confidence: per lead, the estimated probability that its SNR is >= 10 dB; per page, that at least
80 % of the leads it returns are.

Both are logistic regressions on the digitizer's own quality measurements (`found["lead_features"]`: ink
coverage and continuity of the path, jumps no pen draws, Einthoven residual of the limb leads, how well a
rhythm strip repeats its panel, grid / pulse agreement, orientation margins...). The fitted numbers live in
`calibration.json` beside this file (plain numbers, no pickle), written by

    .venv/bin/python -m vizecg.digitize.confidence fit FEATURES.jsonl [--hold-out FAMILY ...]

from a features file that `benchmarks/digitize.py --families ... --features OUT.jsonl` writes (one line per
page: its family, photo, refusal, and per lead the features and the measured SNR). docs/digitizer_confidence.md
has the command that made the shipped file and its reliability table on left-out families.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
SNR_OK_DB = 10.0  # what a lead's confidence is the probability of
PAGE_OK_SHARE = 0.8  # a page is right when this share of the leads it returns reach SNR_OK_DB


def _clip_nan(v: Any, fill: float, lo: float = -math.inf, hi: float = math.inf) -> float:
    v = float("nan") if v is None else float(v)
    return fill if not math.isfinite(v) else min(max(v, lo), hi)


def lead_vector(f: dict[str, Any]) -> dict[str, float]:
    """The model's inputs for one lead, from its features (NaN / missing mapped to a value and a flag)."""
    limb = f.get("limb_lead_residual")
    page_limb = f.get("limb_residual")
    rep = f.get("strip_repeat_db")
    return {
        "coverage": _clip_nan(f.get("coverage"), 0.0, 0, 1),
        "continuity": _clip_nan(f.get("continuity"), 0.0, 0, 1),
        "finite": _clip_nan(f.get("finite"), 0.0, 0, 1),
        "jump_rate": math.sqrt(_clip_nan(f.get("jump_rate"), 1.0, 0, 1)),
        "log_amplitude": math.log(_clip_nan(f.get("amplitude_mv"), 0.0, 0, 20) + 0.05),
        "limb_lead_residual": math.sqrt(_clip_nan(limb, 0.0, 0, 2)),
        "limb_unmeasured": float(_clip_nan(limb, math.nan) != _clip_nan(limb, math.nan)),
        "page_limb_residual": math.sqrt(_clip_nan(page_limb, 0.0, 0, 2)),
        "from_strip": _clip_nan(f.get("from_strip"), 0.0),
        "strip_repeat_db": _clip_nan(rep, 0.0, -10, 40) / 10.0,
        "has_grid": _clip_nan(f.get("has_grid"), 0.0),
        "pulse_agree": _clip_nan(f.get("pulse_agree"), 0.0),
        # the 250 mm trace-width scale is gone (such pages are refused): 0 on every page, kept while the shipped
        # calibration was fitted with it
        "trace_width_scale": _clip_nan(f.get("trace_width_scale"), 0.0),
        "dewarp_conf": _clip_nan(f.get("dewarp_conf"), 1.0),
        "orient_sure": _clip_nan(f.get("orient_sure"), 1.0),
        "log_grid_strength": math.log1p(_clip_nan(f.get("grid_strength"), 0.0, 0, 1e4)),
        "pulse_rows": _clip_nan(f.get("pulse_rows"), 0.0, 0, 1),
        "ink_fraction": 10.0 * _clip_nan(f.get("ink_fraction"), 0.0, 0, 1),
        "layout_ambiguous": float(_clip_nan(f.get("n_candidates"), 1.0) > 1),
        "row_strength": _clip_nan(f.get("row_strength"), 1.0, 0, 3),
        "row_pulse": _clip_nan(f.get("row_pulse"), 0.0),
        "min_row_strength": _clip_nan(f.get("min_row_strength"), 1.0, 0, 3),
    }


def page_vector(page: dict[str, Any], lead_conf: list[float]) -> dict[str, float]:
    """The page model's inputs: layout and scale evidence, and the leads' own confidences."""
    v = lead_vector({**page, "coverage": 1, "continuity": 1, "finite": 1, "jump_rate": 0, "amplitude_mv": 1})
    keep = ("page_limb_residual", "has_grid", "pulse_agree", "trace_width_scale", "dewarp_conf", "orient_sure",
            "log_grid_strength", "pulse_rows", "layout_ambiguous", "min_row_strength")
    c = np.asarray(lead_conf, np.float64) if lead_conf else np.zeros(1)
    return {**{k: v[k] for k in keep}, "limb_unmeasured": float(page.get("limb_residual") is None or not
                                                                 math.isfinite(float(page["limb_residual"]))),
            "mean_lead_conf": float(c.mean()), "low_lead_share": float((c < 0.5).mean())}


@lru_cache(maxsize=1)
def load_calibration(path: str = str(CALIBRATION_FILE)) -> dict[str, Any]:
    """The shipped calibration: {"lead": model, "page": model, "fitted": provenance}; a model is
    {"features": [...], "mean": [...], "scale": [...], "coef": [...], "intercept": x}. Plain JSON numbers."""
    data = json.loads(Path(path).read_text())
    for key in ("lead", "page"):
        m = data[key]
        n = len(m["features"])
        if not all(len(m[k]) == n for k in ("mean", "scale", "coef")):
            raise ValueError(f"{path}: model {key!r} has inconsistent lengths")
        if not all(isinstance(x, (int, float)) and math.isfinite(x)
                   for k in ("mean", "scale", "coef") for x in m[k]) or not math.isfinite(m["intercept"]):
            raise ValueError(f"{path}: model {key!r} holds non-numbers")
    return data


def _logit(model: dict[str, Any], vec: dict[str, float]) -> float:
    x = np.array([vec[k] for k in model["features"]], np.float64)
    return float(np.dot((x - np.asarray(model["mean"])) / np.asarray(model["scale"]), model["coef"]) + model["intercept"])


def _predict(model: dict[str, Any], vec: dict[str, float]) -> float:
    """The model's probability, recalibrated on left-out families (`_recalibrate`)."""
    a, b, k = model.get("recalibrate", (1.0, 0.0, 1.0))
    z = a * _logit(model, vec) + b
    z = k * z if z > 0 else z
    return float(1.0 / (1.0 + math.exp(-min(max(z, -50.0), 50.0))))


def scale_trust(features: dict[str, Any]) -> float:
    """The factor a doubted scale puts on every confidence (scale.measure_scale: grid and pulse height disagree,
    or no grid). The fitted models never saw such a page (a render's pulse always agrees with its grid), so the
    doubt is folded in as a cap rather than learned: 1 where the scale is not in doubt."""
    return _clip_nan(features.get("scale_trust"), 1.0, 0.0, 1.0)


# A page with panels whose lead cannot be known (a 15-lead page's fifth column) may print a named lead a second
# time there (PTB-XL records have no V4R, V8, V9: the fifth column repeats II, V1 and V5); that lead's second
# window is then missing from what is returned, which no feature of the lead can see. A cap, as for the scale.
UNNAMED_PANEL_CAP = 0.75
UNNAMED_PAGE_CAP = 0.5


def lead_confidence(features: dict[str, Any]) -> float:
    """P(SNR >= 10 dB) for one lead from its features (see module doc), times the scale's trust; at most
    UNNAMED_PANEL_CAP on a page with unnamed panels."""
    p = _predict(load_calibration()["lead"], lead_vector(features)) * scale_trust(features)
    return min(p, UNNAMED_PANEL_CAP) if _clip_nan(features.get("unnamed_panels"), 0.0) > 0 else p


def page_confidence(page_features: dict[str, Any], lead_conf: list[float]) -> float:
    """P(at least 80 % of the page's returned leads reach 10 dB), covering layout and scale (times the scale's
    trust, on top of the leads' own)."""
    if not lead_conf:
        return 0.0
    p = _predict(load_calibration()["page"], page_vector(page_features, lead_conf)) * scale_trust(page_features)
    # a repeated lead missing its second window: three of a 15-lead page's twelve, more than the 20 % a right
    # page may miss
    return min(p, UNNAMED_PAGE_CAP) if _clip_nan(page_features.get("unnamed_panels"), 0.0) > 0 else p


# --- fitting (developer tool; scikit-learn only here) ------------------------------------------------------
def read_features(paths: list[str]) -> list[dict[str, Any]]:
    pages = []
    for p in paths:
        with open(p) as fh:
            pages += [json.loads(line) for line in fh if line.strip()]
    return pages


def lead_rows(pages: list[dict[str, Any]]) -> tuple[list[dict[str, float]], np.ndarray, list[str]]:
    """(inputs, SNR >= 10 dB, family) per returned lead of every accepted page."""
    X, y, fam = [], [], []
    for p in pages:
        for lead, f in (p.get("lead_features") or {}).items():
            snr = p["snr"].get(lead, 0.0)  # a lead returned under a name the page does not print is wrong
            X.append(lead_vector({**p["page_features"], **f}))
            y.append(float(snr) >= SNR_OK_DB)
            fam.append(p["family"])
    return X, np.array(y, bool), fam


def _fit_model(X: list[dict[str, float]], y: np.ndarray, c: float) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    names = list(X[0])
    A = np.array([[r[k] for k in names] for r in X], np.float64)
    mean, scale = A.mean(axis=0), A.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, max_iter=2000).fit((A - mean) / scale, y)
    return {"features": names, "mean": [round(float(v), 6) for v in mean], "scale": [round(float(v), 6) for v in scale],
            "coef": [round(float(v), 6) for v in model.coef_[0]], "intercept": round(float(model.intercept_[0]), 6)}


def _recalibrate(pages: list[dict[str, Any]], c: float, target: float = 0.95,
                 high: float = 0.8) -> tuple[float, float, float]:
    """(a, b, k): z' = a * z + b maps the model's logit z onto the rate measured on families it did not see
    (each family's leads scored by a model fitted without it, then a logistic fit of the outcome on those z);
    above even odds z' is further scaled by k <= 1, the largest for which, in every family, at least `target`
    of the leads at or above `high` reach 10 dB. The low end stays as measured; the top is made safe."""
    from sklearn.linear_model import LogisticRegression

    fams = sorted({p["family"] for p in pages})
    zs, ys, fs = [], [], []
    for fam in fams:
        X, y, _ = lead_rows([p for p in pages if p["family"] != fam])
        if len(set(y)) < 2:
            continue
        model = _fit_model(X, y, c)
        Xf, yf, _ = lead_rows([p for p in pages if p["family"] == fam])
        zs += [_logit(model, v) for v in Xf]
        ys += list(yf)
        fs += [fam] * len(yf)
    z, y, f = np.array(zs), np.array(ys, bool), np.array(fs)
    lr = LogisticRegression(C=10.0).fit(z[:, None], y)
    a, b = float(lr.coef_[0][0]), float(lr.intercept_[0])
    k = 1.0
    while k > 0.05:
        zz = a * z + b
        p = 1 / (1 + np.exp(-np.where(zz > 0, k * zz, zz)))
        worst = min((y[(f == fam) & (p >= high)].mean() for fam in fams if ((f == fam) & (p >= high)).any()),
                    default=1.0)
        if worst >= target:
            break
        k -= 0.02
    return round(a, 6), round(b, 6), round(k, 4)


def fit(pages: list[dict[str, Any]], hold_out: tuple[str, ...] = (), c: float = 0.3) -> dict[str, Any]:
    """Lead and page models fitted on the pages of every family not in `hold_out`, each recalibrated on
    left-out families (`_recalibrate`)."""
    train = [p for p in pages if p["family"] not in hold_out]
    X, y, _ = lead_rows(train)
    lead = _fit_model(X, y, c)
    lead["recalibrate"] = list(_recalibrate(train, c))
    PX, Py = [], []
    for p in train:
        if not p.get("lead_features"):
            continue
        conf = [_predict(lead, lead_vector({**p["page_features"], **f})) for f in p["lead_features"].values()]
        snr = [p["snr"].get(k, 0.0) for k in p["lead_features"]]
        PX.append(page_vector(p["page_features"], conf))
        Py.append(np.mean([s >= SNR_OK_DB for s in snr]) >= PAGE_OK_SHARE)
    page = _fit_model(PX, np.array(Py, bool), c)
    return {"lead": lead, "page": page,
            "fitted": {"pages": len(train), "leads": int(len(y)), "families": sorted({p["family"] for p in train}),
                       "held_out": sorted(hold_out), "C": c}}


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="fit the digitizer's confidence calibration")
    ap.add_argument("cmd", choices=["fit"])
    ap.add_argument("features", nargs="+", help="JSONL files written by benchmarks/digitize.py --features")
    ap.add_argument("--hold-out", nargs="*", default=[], help="families left out of the fit")
    ap.add_argument("--C", type=float, default=0.3, help="inverse L2 strength of the logistic regressions")
    ap.add_argument("--out", default=str(CALIBRATION_FILE))
    args = ap.parse_args(argv)
    cal = fit(read_features(args.features), tuple(args.hold_out), args.C)
    cal["fitted"]["command"] = ("python -m vizecg.digitize.confidence fit " + " ".join(args.features) +
                                (" --hold-out " + " ".join(args.hold_out) if args.hold_out else "") + f" --C {args.C:g}")
    Path(args.out).write_text(json.dumps(cal, indent=1) + "\n")
    print(f"fitted on {cal['fitted']['leads']} leads of {cal['fitted']['pages']} pages -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
