"""Lead names read from the page (issue 13): the lead-label reader on label crops, and PageLayout on whole pages.

On render folders of print-style families the reader never trained on (photographed, `--photo mixed-all`):
  1. reader: top-1 accuracy over the truth label boxes (and not_a_label windows), accuracy and coverage of the
     reads above the reader's confidence bar, expected calibration error; per family and per photo condition;
  2. PageLayout from the shipped detector's boxes: the share of truth panels whose lead name is right (a truth
     panel matched to a detected panel at IoU >= 0.5; unmatched panels count as wrong), against today's
     row-shape template (3x4 / 3x4+1, strip always II, "panel<i>" otherwise), and the share of pages whose
     layout name is exact; the same with the truth's panel and label boxes in place of the detector's
     (what the reader and the layout logic do on their own).
Prints a table, writes benchmarks/results/lead_labels.json.

    .venv/bin/python benchmarks/lead_labels.py --folders runs/labels/test_left_out [--pages 50]
    # the 15-lead records the training pages of fifteen-3x5 print V4R/V8/V9 from:
    .venv/bin/python benchmarks/lead_labels.py --make-records15 runs/labels/records15 [--n 60]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_records15(out: str | Path, n: int, ptbxl: str) -> int:
    """PTB-XL's first n records with V4R = -0.6 V4 + 0.2 V1, V8 = 0.7 V6, V9 = 0.5 V6 added, as NPZ files: a
    15-lead page prints those names only for a record that carries them (the signal under them does not matter
    to a label reader)."""
    from vizecg.data import load_source, write_npz
    from vizecg.record import EcgRecord

    src = load_source(f"ptbxl:{ptbxl}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for rid in list(src.record_ids)[:n]:
        r = src.get(rid)
        i = {name: k for k, name in enumerate(r.lead_names)}
        extra = np.stack([-0.6 * r.signal[i["V4"]] + 0.2 * r.signal[i["V1"]], 0.7 * r.signal[i["V6"]],
                          0.5 * r.signal[i["V6"]]])
        write_npz(EcgRecord(np.concatenate([r.signal, extra]).astype(np.float32), r.fs,
                            tuple(r.lead_names) + ("V4R", "V8", "V9"), r.record_id, r.patient_id), out / f"{rid}.npz")
    print(f"{n} records -> {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folders", nargs="+")
    p.add_argument("--make-records15", metavar="OUT", help="write the 15-lead record folder and stop")
    p.add_argument("--n", type=int, default=60, help="--make-records15: records")
    p.add_argument("--ptbxl", default=str(REPO.parent / "shared" / "data" / "ptbxl"))
    p.add_argument("--pages", type=int, default=50, help="pages per folder for the PageLayout part")
    p.add_argument("--labels", default=None, help="lead-label weights (default: the shipped ones)")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "lead_labels.json"))
    args = p.parse_args(argv)
    if args.make_records15:
        return make_records15(args.make_records15, args.n, args.ptbxl)
    if not args.folders:
        p.error("--folders is required")

    from vizecg.offline import configure_offline

    configure_offline()
    import cv2
    import torch

    torch.set_num_threads(1)
    from detector.evaluate import panels_named_right, printed_panels
    from detector.geometry import pairwise_iou
    from detector.infer import BeatDetector, panel_rows, read_page_layout
    from detector.layout import read_layout
    from vizecg.labels import LabelReader
    from vizecg.labels.train import evaluate
    from vizecg.render import PageTruth

    reader = LabelReader(args.labels) if args.labels else LabelReader()
    t0 = time.perf_counter()
    crops = evaluate(reader, args.folders, reader.min_prob)
    print(f"reader on truth label boxes ({time.perf_counter() - t0:.0f} s): {json.dumps(crops['all'])}")

    det = BeatDetector(labels=None)
    tally = {k: [0, 0] for k in ("read_detector", "template_detector", "read_truth_boxes")}
    found_panels = [0, 0]  # truth panels with a detected panel at IoU >= 0.5: the ceiling of the detector rows
    layout_exact = {"read_detector": 0, "template_detector": 0, "read_truth_boxes": 0}
    per_family: dict[str, dict[str, list[int]]] = {}
    pages, seconds = 0, []
    for folder in args.folders:
        for label_path in sorted((Path(folder) / "labels").glob("*.json"))[: args.pages]:
            truth = json.loads(label_path.read_text())
            image = cv2.imread(str(Path(folder) / truth["image"]), cv2.IMREAD_COLOR)[:, :, ::-1]
            leads = [ld for ld in truth["leads"] if ld.get("present", True)]
            printed = printed_panels(PageTruth.from_json(truth))
            tb = printed.boxes
            found = det.detect(image)
            if len(found.panels):
                found_panels[0] += int((pairwise_iou(tb, found.panels.astype(np.float64)).max(1) >= 0.5).sum())
            found_panels[1] += len(tb)
            t1 = time.perf_counter()
            read = read_page_layout(found, image, reader)
            seconds.append(time.perf_counter() - t1)
            # The truth's own boxes: panels in reading order, label boxes where printed.
            order = [j for r in panel_rows(tb) for j in r]
            tb_sorted = tb[order]
            lbl = np.array([ld["label_box"] for ld in leads if ld["label_box"] is not None], np.float64).reshape(-1, 4)
            oracle = read_layout(image, tb_sorted, panel_rows(tb_sorted), lbl, reader)
            fam = per_family.setdefault(truth.get("family", ""), {k: [0, 0] for k in tally})
            for key, boxes, names, layout in (
                    ("read_detector", read.panels, read.panel_leads, read.layout),
                    ("template_detector", found.panels, found.panel_leads, found.layout),
                    ("read_truth_boxes", tb_sorted, oracle.panel_leads, oracle.layout)):
                right = int(panels_named_right(printed, boxes, names).sum())
                tally[key][0] += right
                tally[key][1] += len(tb)
                fam[key][0] += right
                fam[key][1] += len(tb)
                layout_exact[key] += int(layout == truth["layout"])
            pages += 1
    result = {
        "folders": args.folders, "pages": pages, "reader_weights": str(reader.weights),
        "reader_crops": crops,
        "panels_named_right": {k: v[0] / max(v[1], 1) for k, v in tally.items()},
        "panels": {k: v[1] for k, v in tally.items()},
        "layout_exact": {k: v / max(pages, 1) for k, v in layout_exact.items()},
        "per_family_panels_named_right": {f: {k: v[0] / max(v[1], 1) for k, v in d.items()}
                                          for f, d in per_family.items()},
        "reading_seconds_per_page": float(np.median(seconds)) if seconds else None,
        "detector_panels_found": found_panels[0] / max(found_panels[1], 1),
    }
    print(f"\n{'':28s} {'read (detector)':>16s} {'template (det.)':>16s} {'read (truth boxes)':>19s}")
    print(f"{'panels named right':28s} " + " ".join(f"{result['panels_named_right'][k]:>16.3f}" for k in tally))
    print(f"{'layout exact':28s} " + " ".join(f"{result['layout_exact'][k]:>16.3f}" for k in tally))
    print(f"{'truth panels detected':28s} {result['detector_panels_found']:>16.3f}")
    for f, d in result["per_family_panels_named_right"].items():
        print(f"{'  ' + f:28s} " + " ".join(f"{d[k]:>16.3f}" for k in tally))
    from vizecg.runs import write_json

    write_json(args.out, result)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
