"""The quality gate (vizecg/predict/quality.py) on images it was never tuned on: does it refuse every non-ECG
image and pass the readable rendered photos?

    .venv/bin/python benchmarks/quality_gate.py --negatives 210 --photos 60 --out runs/gate/eval

Sets (made once under --out, then reused):
  negatives   detector.negatives --n N --seed NEG_SEED (text, tables/forms, empty ECG/graph/dot grids, paper,
              checkerboards, noise, real photos; page kinds photographed half the time). The detector trained on
              seeds 10000 and 20000 and the gate was tuned on 31000: the default seed 40000 is neither.
  photos      `vizecg render --source ptbxl:... --style random --photo P --seed PHOTO_SEED` for P in phone, scan,
              mixed (the gate was tuned on the embedded sample at seed 31000).
  families    with --families N: N phone photos of each print-style family (vizecg/render/style.py), the issue's
              "passes >= 98 % of readable rendered photos of every style family" (`--style families`, one family
              per set, seed FAMILY_SEED + k).
Each image goes through predict_page exactly as `vizecg predict` runs it (shipped detector, the digitizer), with
no classifier: the gate's verdict is the page's status. Verdicts are kept in OUT/verdicts.jsonl with a hash of the
code that took them, and reused on a rerun only by the same code. Prints a table per kind and writes
OUT/quality_gate.json (every image's verdict and reason).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_sets(out: Path, n_neg: int, neg_seed: int, n_photos: int, photo_seed: int, source: str, dpi: int,
              n_family: int = 0, family_seed: int = 0) -> dict:
    from detector.negatives import build_negatives
    from vizecg.builders.render_job import RenderJob, build_dataset
    from vizecg.render.printout import RenderConfig
    from vizecg.render.style import list_families

    sets = {"negatives": out / f"negatives_s{neg_seed}_n{n_neg}"}
    build_negatives(n_neg, neg_seed, sets["negatives"], progress=False)
    for k, photo in enumerate(("phone", "scan", "mixed")):
        sets[photo] = out / f"photos_{photo}_s{photo_seed + k}_n{n_photos}"
        job = RenderJob(source=source, n=n_photos, photo=photo, style="random", seed=photo_seed + k, workers=1,
                        render=RenderConfig(dpi=dpi))
        build_dataset(job, sets[photo], progress=False)
    for k, family in enumerate(list_families() if n_family else ()):
        name = f"family:{family}"
        sets[name] = out / f"family_{family}_s{family_seed + k}_n{n_family}"
        job = RenderJob(source=source, n=n_family, photo="phone", style="families", families=(family,),
                        seed=family_seed + k, workers=1, render=RenderConfig(dpi=dpi))
        build_dataset(job, sets[name], progress=False)
    return sets


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--negatives", type=int, default=210)
    p.add_argument("--neg-seed", type=int, default=40000)
    p.add_argument("--photos", type=int, default=60, help="rendered photos per condition (phone, scan, mixed)")
    p.add_argument("--photo-seed", type=int, default=41000)
    p.add_argument("--families", type=int, default=0, help="phone photos per print-style family (0: none)")
    p.add_argument("--family-seed", type=int, default=42000)
    p.add_argument("--source", default=f"ptbxl:{REPO.parent / 'shared' / 'data' / 'ptbxl'}")
    p.add_argument("--dpi", type=int, default=150)
    p.add_argument("--out", default="runs/gate/eval")
    args = p.parse_args(argv)

    from vizecg.commands.predict import detector_beat_finder
    from vizecg.data import RenderFolder
    from vizecg.images import read_image
    from vizecg.offline import configure_offline
    from vizecg.predict import predict_page
    from vizecg.digitize.route import DIGITIZER_CODE
    from vizecg.runs import source_hash, write_json

    # what a verdict depends on: the digitizer, the gate and report core, the detector and the label reader
    gate_code = DIGITIZER_CODE + ("vizecg/predict/*.py", "detector/*.py", "detector/weights/*.onnx",
                                  "vizecg/labels/*.py", "vizecg/labels/weights/*.onnx")

    configure_offline()
    out = Path(args.out)
    sets = make_sets(out, args.negatives, args.neg_seed, args.photos, args.photo_seed, args.source, args.dpi,
                     args.families, args.family_seed)
    finder = detector_beat_finder()
    rows = []
    done_path = out / "verdicts.jsonl"
    done = {}
    code = source_hash(gate_code)
    if done_path.is_file():  # resume: verdicts already taken by this code (a changed reader reads again)
        for line in done_path.read_text().splitlines():
            r = json.loads(line)
            if r.get("code") == code:
                done[(r["set"], r["id"])] = r
    with done_path.open("a") as fh:
        for name, folder in sets.items():
            for page in RenderFolder(folder):
                key = (name, page.id)
                if key in done:
                    rows.append(done[key])
                    continue
                t0 = time.perf_counter()
                pred = predict_page(read_image(page.image), finder, None)
                r = {"code": code, "set": name, "id": page.id,
                     "kind": page.extra["kind"] if name == "negatives" else name,
                     "ecg": name != "negatives", "passed": pred.ok, "reason": pred.reason,
                     "warnings": list(pred.warnings), "seconds": round(time.perf_counter() - t0, 2)}
                fh.write(json.dumps(r) + "\n")
                fh.flush()
                rows.append(r)
    table = {}
    for r in rows:
        t = table.setdefault(r["kind"], {"ecg": r["ecg"], "n": 0, "passed": 0, "warned": 0})
        t["n"] += 1
        t["passed"] += int(r["passed"])
        t["warned"] += int(r["passed"] and bool(r["warnings"]))
    neg = [r for r in rows if not r["ecg"]]
    pos = [r for r in rows if r["ecg"]]
    summary = {
        "negatives": {"n": len(neg), "refused": sum(not r["passed"] for r in neg),
                      "refused_rate": sum(not r["passed"] for r in neg) / max(len(neg), 1)},
        "photos": {"n": len(pos), "passed": sum(r["passed"] for r in pos),
                   "pass_rate": sum(r["passed"] for r in pos) / max(len(pos), 1)},
        "by_kind": table, "seconds_per_image": round(sum(r["seconds"] for r in rows) / max(len(rows), 1), 2),
        "config": vars(args), "sets": {k: str(v) for k, v in sets.items()},
        "failures": [r for r in rows if r["passed"] != r["ecg"]],
    }
    print(f"{'kind':<28} {'ECG?':<5} {'n':>4} {'passed':>7} {'refused':>8} {'rate':>7}")
    for kind, t in table.items():
        rate = t["passed"] / t["n"] if t["ecg"] else (t["n"] - t["passed"]) / t["n"]
        print(f"{kind:<28} {'yes' if t['ecg'] else 'no':<5} {t['n']:>4} {t['passed']:>7} {t['n'] - t['passed']:>8} "
              f"{rate:>7.1%}")
    print(f"non-ECG refused: {summary['negatives']['refused']} / {summary['negatives']['n']}  "
          f"({summary['negatives']['refused_rate']:.1%}); ECG photos passed: {summary['photos']['passed']} / "
          f"{summary['photos']['n']} ({summary['photos']['pass_rate']:.1%}); "
          f"{summary['seconds_per_image']} s/image")
    for r in summary["failures"]:
        print(f"  wrong: {r['set']} {r['id']} ({r['kind']}): {'passed' if r['passed'] else r['reason']}")
    write_json(out / "quality_gate.json", summary)
    print(f"-> {out / 'quality_gate.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
