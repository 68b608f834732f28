"""Reports: one list of blocks (headings, paragraphs, tables, figures) written as Markdown and as HTML.

A block is a tuple:
    ("h1" .. "h4", text)            heading
    ("p", text)                     paragraph (Markdown inline syntax is kept as is in the .md)
    ("pre", text)                   preformatted text (a command, a log excerpt)
    ("table", header, rows)         header: list of str; rows: list of lists of str
    ("image", relative_path, caption)

Also the figures every report shares: ROC curves (one panel per class, one line per model) and a page with
its beat boxes drawn on it. The core never imports distill/ or detector/: callers hand in plain arrays.
"""
from __future__ import annotations

import html
import io
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from vizecg.runs import atomic_write_bytes, atomic_write_text

Block = tuple


def fmt(value: float | None, digits: int = 3) -> str:
    """A number for a table: 'n/a' for None or NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def fmt_ci(stat: Mapping[str, Any] | None, digits: int = 3, signed: bool = False) -> str:
    """{'point', 'lo', 'hi'} -> '0.812 [0.751, 0.866]' ('n/a' when missing)."""
    if not stat or stat.get("point") is None or not math.isfinite(stat["point"]):
        return "n/a"
    f = (lambda v: f"{v:+.{digits}f}") if signed else (lambda v: f"{v:.{digits}f}")
    lo, hi = stat.get("lo"), stat.get("hi")
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return f(stat["point"])
    return f"{f(stat['point'])} [{f(lo)}, {f(hi)}]"


def to_markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2", "h3", "h4"):
            out.append("#" * int(kind[1]) + " " + b[1])
        elif kind == "p":
            out.append(b[1])
        elif kind == "pre":
            out.append("```\n" + b[1].rstrip("\n") + "\n```")
        elif kind == "table":
            header, rows = b[1], b[2]
            cell = lambda s: str(s).replace("|", "\\|")  # noqa: E731
            lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
            out.append("\n".join(lines))
        elif kind == "image":
            out.append(f"![{b[2]}]({b[1]})\n\n*{b[2]}*")
        else:
            raise ValueError(f"unknown report block {kind!r}")
    return "\n\n".join(out) + "\n"


def _inline_html(text: str) -> str:
    """Escape, then the two inline Markdown forms the reports use: `code` and **bold**."""
    import re

    s = html.escape(text)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", s)


def to_html(blocks: Sequence[Block], title: str) -> str:
    parts = [f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}"
             "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #bbb;"
             "padding:3px 8px;text-align:left}th{background:#eee}pre{background:#f4f4f4;padding:0.6em;"
             "overflow-x:auto}img{max-width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:0.9em}"
             "</style></head><body>"]
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2", "h3", "h4"):
            parts.append(f"<{kind}>{_inline_html(b[1])}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{_inline_html(b[1])}</p>")
        elif kind == "pre":
            parts.append(f"<pre>{html.escape(b[1])}</pre>")
        elif kind == "table":
            head = "".join(f"<th>{_inline_html(str(h))}</th>" for h in b[1])
            body = "".join("<tr>" + "".join(f"<td>{_inline_html(str(c))}</td>" for c in row) + "</tr>"
                           for row in b[2])
            parts.append(f"<table><tr>{head}</tr>{body}</table>")
        elif kind == "image":
            parts.append(f"<figure><img src='{html.escape(b[1])}' alt='{html.escape(b[2])}'>"
                         f"<figcaption>{html.escape(b[2])}</figcaption></figure>")
        else:
            raise ValueError(f"unknown report block {kind!r}")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(out_dir: str | Path, blocks: Sequence[Block], title: str, stem: str = "report",
                 html_too: bool = True) -> list[Path]:
    """Write OUT/<stem>.md (and OUT/<stem>.html); image paths in blocks are relative to OUT."""
    out = Path(out_dir)
    paths = [out / f"{stem}.md"]
    atomic_write_text(paths[0], to_markdown(blocks))
    if html_too:
        paths.append(out / f"{stem}.html")
        atomic_write_text(paths[1], to_html(blocks, title))
    return paths


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> None:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def plot_roc(panels: Sequence[tuple[str, Mapping[str, tuple[np.ndarray, np.ndarray]]]], path: str | Path,
             title: str | None = None) -> None:
    """ROC curves: one panel per (class title, {model label: (y_true (n,), score (n,))}), one line per model.

    A class with only one outcome in y_true has no ROC curve; its panel says so instead of drawing one.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    n = max(1, len(panels))
    cols = min(3, n)
    rows = int(math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.0 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, (name, curves) in zip(axes.ravel(), panels):
        ax.plot([0, 1], [0, 1], color="#aaa", lw=0.8, ls="--")
        drawn = 0
        for label, (y, score) in curves.items():
            y = np.asarray(y).astype(int).ravel()
            if not 0 < y.sum() < len(y):
                continue
            fpr, tpr, _ = roc_curve(y, np.asarray(score).ravel())
            ax.plot(fpr, tpr, lw=1.6, label=f"{label} ({roc_auc_score(y, score):.2f})")
            drawn += 1
        if not drawn:
            ax.text(0.5, 0.5, "no ROC: one outcome only\nin the test split", ha="center", va="center")
        ax.set_title(name)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        if drawn:
            ax.legend(loc="lower right", fontsize=7, title="model (AUROC)", title_fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)


def draw_boxes(image: np.ndarray, boxes: np.ndarray, color: tuple[int, int, int] = (0, 90, 255),
               thickness: int | None = None) -> np.ndarray:
    """A copy of the (H, W, 3) RGB uint8 image with xyxy boxes outlined."""
    import cv2

    out = np.ascontiguousarray(image).copy()
    t = thickness or max(1, round(min(out.shape[:2]) / 400))
    for x0, y0, x1, y1 in np.asarray(boxes, np.float64).reshape(-1, 4):
        cv2.rectangle(out, (int(round(x0)), int(round(y0))), (int(round(x1)), int(round(y1))), color, t)
    return out


