"""Score a digitization against a rendered page's ground truth: only what the page shows is compared."""
from __future__ import annotations

from typing import Any

import numpy as np

from vizecg.digitize.digitizer import DigitizedEcg
from vizecg.digitize.metrics import score_lead
from vizecg.errors import DataError
from vizecg.record import EcgRecord
from vizecg.render import paper
from vizecg.render.truth import PageTruth


def page_reference(record: EcgRecord, truth: PageTruth, n_samples: int) -> dict[str, np.ndarray]:
    """Per lead, the true signal on the page's time axis (t = 0 at the page's left edge) at the record's rate, NaN
    wherever no panel shows it (other time windows, points warped out of the photo, leads the record lacks).

    A record below the renderer's MIN_DRAW_FS (PTB-XL's 100 Hz records) is drawn from a copy resampled to
    DRAW_FS, and the truth counts that copy's samples: its every `step`-th sample is one of the record's own."""
    from vizecg.render.printout import DRAW_FS, MIN_DRAW_FS

    step = 1.0 if record.fs >= MIN_DRAW_FS else DRAW_FS / record.fs
    if abs(step - round(step)) > 1e-9:
        raise DataError(f"record {record.record_id} at {record.fs:g} Hz was drawn at {DRAW_FS:g} Hz, not a whole "
                        f"multiple: its page cannot be scored sample by sample")
    step = int(round(step))
    start_s = float(truth.render_params.get("start_s", 0.0))
    i_page = int(round(start_s * record.fs))
    ref: dict[str, np.ndarray] = {}
    for lt in truth.leads:
        if not lt.present or lt.lead not in record.lead_names:
            continue
        row = ref.setdefault(lt.lead, np.full(n_samples, np.nan))
        src = record.signal[record.lead_names.index(lt.lead)]
        drawn = lt.sample_start + np.arange(len(lt.visible))  # samples of the copy the page was drawn from
        own = drawn % step == 0
        idx, visible = drawn[own] // step, lt.visible[own]
        keep = visible & (idx < record.n_samples) & (idx - i_page >= 0) & (idx - i_page < n_samples)
        row[idx[keep] - i_page] = src[idx[keep]]
    return ref


def score_page(digitized: DigitizedEcg, record: EcgRecord, truth: PageTruth) -> dict[str, Any]:
    """Per lead SNR / r / RMSE of one digitized page against its truth; a lead the digitizer did not return
    scores as all-missing (SNR 0 dB: the noise is the whole signal)."""
    est = digitized.record
    if abs(est.fs - record.fs) > 1e-6:
        raise DataError(f"digitized at {est.fs:g} Hz but the truth is at {record.fs:g} Hz: digitize with fs="
                        f"{record.fs:g}")
    ref = page_reference(record, truth, est.n_samples)
    leads: dict[str, dict[str, float]] = {}
    for lead, x in ref.items():
        if not np.isfinite(x).any():
            continue
        y = est.signal[est.lead_names.index(lead)] if lead in est.lead_names else np.full_like(x, np.nan)
        leads[lead] = score_lead(x, y, record.fs)
    snrs = [v["snr_db"] for v in leads.values()]
    return {"leads": leads, "snr_db": float(np.mean(snrs)) if snrs else float("nan"),
            "pearson_r": float(np.nanmean([v["pearson_r"] for v in leads.values()])) if leads else float("nan"),
            "rmse_mv": float(np.nanmean([v["rmse_mv"] for v in leads.values()])) if leads else float("nan")}


def evaluate_folder(data_dir: str, config: Any, limit: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Digitize every page of a rendered set (manifest.csv, images/, labels/, signals/) and score it.

    A page the digitizer refuses (DigitizeError) scores 0 dB on every lead it should have shown (nothing
    returned: the noise is the whole signal), so refusals are not hidden by the mean.
    """
    import time
    from dataclasses import replace

    from tqdm import tqdm

    from vizecg.data import RenderFolder
    from vizecg.digitize.digitizer import digitize
    from vizecg.errors import DigitizeError
    from vizecg.images import read_image

    pages = list(RenderFolder(data_dir, require=("record_id",)))
    if limit:
        pages = pages[:limit]
    scored = []
    for page in tqdm(pages, desc="digitize eval", disable=not progress):
        truth = page.read_truth()
        record = page.read_signal()
        image = read_image(page.image)
        t0 = time.perf_counter()
        entry: dict[str, Any] = {"id": page.id, "record_id": page.record_id, "photo": page.photo,
                                 "layout": page.layout}
        try:
            result = digitize(image, replace(config, fs=record.fs))
            entry["seconds"] = time.perf_counter() - t0
            entry.update(score_page(result, record, truth))
            entry["found_layout"] = result.found["layout"]
            entry["ok"] = True
        except DigitizeError as exc:
            entry["seconds"] = time.perf_counter() - t0
            speed = float(truth.render_params.get("speed_mm_s", 25.0))
            ref = page_reference(record, truth, int(round(paper.TRACE_WIDTH_MM / speed * record.fs)))
            entry.update({"ok": False, "error": exc.problem, "snr_db": 0.0 if ref else float("nan"),
                          "pearson_r": float("nan"), "rmse_mv": float("nan"),
                          "leads": {lead: {"snr_db": 0.0} for lead in ref}})
        scored.append(entry)
    return summarise(scored)


def summarise(pages: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over all (page, lead) SNRs, overall and per photo severity (the Challenge averages per lead)."""
    def block(ps: list[dict[str, Any]]) -> dict[str, Any]:
        snrs = [v["snr_db"] for p in ps for v in p.get("leads", {}).values() if np.isfinite(v["snr_db"])]
        rs = [p["pearson_r"] for p in ps if p.get("ok") and np.isfinite(p["pearson_r"])]
        rm = [p["rmse_mv"] for p in ps if p.get("ok") and np.isfinite(p["rmse_mv"])]
        return {"pages": len(ps), "snr_db": float(np.mean(snrs)) if snrs else float("nan"),
                "snr_db_median_page": float(np.median([p["snr_db"] for p in ps])) if ps else float("nan"),
                "pearson_r": float(np.mean(rs)) if rs else float("nan"),
                "rmse_mv": float(np.mean(rm)) if rm else float("nan"),
                "failed": sum(not p.get("ok") for p in ps),
                "s_per_page": float(np.mean([p["seconds"] for p in ps])) if ps else float("nan")}

    by_photo: dict[str, list[dict[str, Any]]] = {}
    for p in pages:
        by_photo.setdefault(p["photo"] or "none", []).append(p)
    out = block(pages)
    out["by_photo"] = {k: block(v) for k, v in by_photo.items()}
    out["pages_detail"] = pages
    return out
