"""Learned trace segmentation (vizecg.digitize.segment): truth masks, tiles, the tiny U-Net, training with resume,
whole-page inference (torch and ONNX) and the pixel scores against the classical ink mask."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from vizecg.data import load_source
from vizecg.digitize.segment import (OnnxSegmenter, create_segmenter, export_onnx, image_px_per_mm,
                                     ink_probability, load_segmenter, printed_line_mm, trace_mask)
from vizecg.digitize.segment.data import TileConfig, cut_tiles, photo_condition, seg_split, split_pages
from vizecg.digitize.segment.masks import page_at_scale, page_region
from vizecg.digitize.segment.metrics import pixel_counts, scores
from vizecg.digitize.segment_eval import evaluate_pages, select_pages
from vizecg.digitize import segment_train
from vizecg.digitize.segment_train import ResumeError, SegTrainConfig, train
from vizecg.errors import ModelError
from vizecg.images import write_image
from vizecg.photo import photograph
from vizecg.render.printout import render_print_style
from vizecg.render.style import draw_print_style
from vizecg.runs import StaleOutputError

NET_PPM = 2.0  # tests run the network at 2 px/mm: the real code path on a quarter of the pixels


@pytest.fixture(scope="module")
def record():
    return load_source("sample").get("00001")


@pytest.fixture(scope="module")
def clean_page(record):
    return render_print_style(record, draw_print_style(np.random.default_rng(0), "hospital-3x4+1"), dpi=100, seed=0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, record):
    """A render folder as `vizecg render` lays it out (labels/*.json beside images/): 100 dpi pages of two
    families photographed by phone; folds 1-3 train, fold 9 validates, fold 10 must never be read."""
    root = tmp_path_factory.mktemp("seg_renders")
    (root / "images").mkdir()
    (root / "labels").mkdir()
    rows = []
    for k, (fold, family) in enumerate([(1, "hospital-3x4+1"), (2, "thermal-dots"), (3, "hospital-3x4+1"),
                                        (9, "thermal-dots"), (10, "hospital-3x4+1")]):
        page = render_print_style(record, draw_print_style(np.random.default_rng(k), family), dpi=100, seed=k)
        photo = photograph(page, "phone", seed=k)
        pid = f"{k:05d}"
        write_image(root / "images" / f"{pid}.jpg", photo.image)
        label = photo.truth.to_json() | {"id": pid, "image": f"images/{pid}.jpg", "fold": fold,
                                         "split": "train" if fold <= 8 else "val", "family": family}
        (root / "labels" / f"{pid}.json").write_text(json.dumps(label))
        rows.append(f"{pid},images/{pid}.jpg,labels/{pid}.json,{fold},{label['split']},phone,{family}")
    (root / "manifest.csv").write_text("\n".join(["id,image,label,fold,split,photo,family", *rows]) + "\n")
    return root


def tiny_config(folder, **kw) -> SegTrainConfig:
    base = dict(folders=(str(folder),), model="trace_unet_tiny", px_per_mm=NET_PPM, tiles=TileConfig(size=64),
                tiles_per_page=2, pages_per_step=1, epochs=2, warmup_steps=2, checkpoint_every=2, progress=False)
    return SegTrainConfig(**(base | kw))


# --- masks -------------------------------------------------------------------------------------------------------
def test_mask_lands_on_the_drawn_trace(clean_page):
    truth, image = clean_page.truth, clean_page.image
    mask = trace_mask(truth)
    assert mask.shape == image.shape[:2] and 0.001 < mask.mean() < 0.05
    value = image.max(axis=2)  # the trace is black ink: dark in every channel, unlike the coloured grid
    assert np.median(value[mask]) < 100
    # the same mask moved by 3 px (off the ink, onto the grid and paper) is bright
    assert np.median(value[np.roll(mask, 3, axis=0) & ~mask]) > 180
    # and every visible sample of every lead lies on the mask (within the 1/16 px the polyline is drawn at:
    # a sample at y = 216.496 is drawn from 216.5, in pixel 217)
    pts = np.concatenate([lt.trace[lt.visible] for lt in truth.leads])
    ix, iy = np.round(pts[:, 0]).astype(int), np.round(pts[:, 1]).astype(int)
    assert mask[iy, ix].mean() > 0.95
    near = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert near[iy, ix].all()


def test_mask_follows_the_photo_and_its_scale(clean_page):
    photo = photograph(clean_page, "phone", seed=3)
    truth = photo.truth
    assert image_px_per_mm(truth) == pytest.approx(truth.photo_params["steps"]["camera"]["px_per_mm"])
    assert image_px_per_mm(truth) < truth.px_per_mm  # the camera frames the sheet with background around it
    # the style's 0.3 mm pen (or whatever it drew) at the whole pixels the renderer used
    style_mm = truth.render_params["print_style"]["line_width_mm"]
    assert printed_line_mm(truth) == pytest.approx(max(1, round(style_mm * truth.px_per_mm)) / truth.px_per_mm)
    mask = trace_mask(truth)
    value = photo.image.max(axis=2).astype(float)
    region = page_region(truth)
    assert value[mask].mean() < value[region & ~mask].mean() - 60  # the moved truth still lies on the ink
    assert trace_mask(truth, scale=0.5).shape == (round(truth.height / 2), round(truth.width / 2))


def test_tiles_cut_with_their_masks(clean_page):
    page = page_at_scale(clean_page.image, clean_page.truth, 4.0)
    assert abs(page.image.shape[1] / clean_page.image.shape[1] - 4.0 / clean_page.truth.px_per_mm) < 0.01
    cfg = TileConfig(size=64, trace_share=1.0, flip=False, channel_shuffle=0.0, grey=0.0, scale_jitter=0.0)
    x, y, w = cut_tiles(page, 6, cfg, np.random.default_rng(0))
    assert x.shape == (6, 3, 64, 64) and y.shape == w.shape == (6, 1, 64, 64) and x.dtype == np.uint8
    assert y.sum(axis=(1, 2, 3)).min() > 0  # trace-centred tiles hold trace
    assert np.median(x.max(axis=1)[y[:, 0] > 0]) < 120  # and the mask is on its dark pixels
    again = cut_tiles(page, 6, cfg, np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip((x, y, w), again))  # same seed, same tiles


def test_split_rule_never_reads_fold_10(folder):
    assert [seg_split(f, "x") for f in (1, 8, 9, 10)] == ["train", "train", "val", None]
    assert [seg_split(None, s) for s in ("train", "val", "test")] == ["train", "val", None]
    pages = split_pages([str(folder)])
    assert [p.fold for p in pages["train"]] == [1, 2, 3] and [p.fold for p in pages["val"]] == [9]
    assert {p.family for p in pages["train"]} == {"hospital-3x4+1", "thermal-dots"}
    assert photo_condition(pages["val"][0].truth(), "mixed") == "phone"


# --- model -------------------------------------------------------------------------------------------------------
def test_tiny_segmenter_every_parameter_learns():
    torch.manual_seed(0)
    model = create_segmenter("trace_unet_tiny")
    out = model(torch.rand(2, 3, 64, 96))
    assert out.shape == (2, 1, 64, 96)
    out.mean().backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, dead[:5]
    with pytest.raises(ModelError, match="trace_unet_tiny"):
        create_segmenter("trace_unett")
    with pytest.raises(ModelError, match="unknown segmenter argument"):
        create_segmenter("trace_unet_tiny", width=3)


# --- training ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(folder, tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("seg_run")
    summary = train(tiny_config(folder), out)
    return out, summary


def test_training_writes_checkpoint_model_and_summary(trained):
    out, summary = trained
    for name in ("checkpoint.pt", "model.pt", "summary.json", "config.yaml", "log.txt", "fingerprint.json"):
        assert (out / name).is_file(), name
    assert summary["status"] == "done" and summary["global_step"] == summary["total_steps"] == 6
    hist = summary["history"]
    assert len(hist) == 2 and all(np.isfinite(h["bce"]) and np.isfinite(h["dice"]) for h in hist)
    val = hist[-1]["val"]
    assert val["pages"] == 1 and "family:thermal-dots" in val["strict"] and "photo:phone" in val["tol1"]
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["settings"]["code"] == segment_train.code_hash() and ckpt["settings_hash"] == summary["settings_hash"]
    model = load_segmenter(out / "model.pt")
    assert model.px_per_mm == NET_PPM and not model.training


def test_resume_continues_to_the_same_weights(folder, trained, tmp_path):
    out, _ = trained
    first = train(tiny_config(folder, steps=4), tmp_path)  # stops after 4 of 6 steps, mid-epoch 2
    assert first["status"] == "paused" and first["global_step"] == 4
    done = train(tiny_config(folder), tmp_path, resume=True)
    assert done["status"] == "done" and done["global_step"] == 6
    a = torch.load(out / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # paused + resumed = uninterrupted, to the bit


def test_resume_with_other_settings_is_refused(folder, trained, tmp_path, capsys):
    out, _ = trained
    with pytest.raises(StaleOutputError, match="lr: 0.002"):
        train(tiny_config(folder, lr=1e-3), out, resume=True)
    with pytest.raises(ResumeError, match="pass --resume"):
        train(tiny_config(folder), out)
    # the checkpoint itself is checked too (a fingerprint copied from elsewhere, another code version)
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    ckpt["settings"] = ckpt["settings"] | {"code": "0123456789abcdef"}
    ckpt["settings_hash"] = "changed"
    torch.save(ckpt, out / "checkpoint.pt")
    with pytest.raises(ResumeError, match="code: '0123456789abcdef'"):
        train(tiny_config(folder), out, resume=True)
    # the CLI says it in one line, exit status 2
    rc = segment_train.main(["--folders", str(folder), "--out", str(out), "--model", "trace_unet_tiny",
                             "--px-per-mm", str(NET_PPM), "--tile", "64", "--resume", "--lr", "0.01", "--no-progress"])
    assert rc == 2 and "made with other settings" in capsys.readouterr().err
    # --overwrite starts a folder of other settings again
    train(tiny_config(folder, lr=1e-3, steps=1), tmp_path)
    again = train(tiny_config(folder, epochs=1), tmp_path, overwrite=True)
    assert again["status"] == "done" and again["global_step"] == 3 and again["config"]["lr"] == 2e-3


# --- inference ------------------------------------------------------------------------------------------------------
def test_ink_probability_shape_range_and_onnx(tmp_path, clean_page):
    torch.manual_seed(0)
    model = create_segmenter("trace_unet_tiny", px_per_mm=NET_PPM).eval()
    image = np.ascontiguousarray(clean_page.image[:301, :437])
    ppm = clean_page.truth.px_per_mm
    prob = ink_probability(image, ppm, model, tile=64, overlap=16)  # many tiles, blended
    assert prob.shape == image.shape[:2] and prob.dtype == np.float32 and 0.0 <= prob.min() <= prob.max() <= 1.0
    guessed = ink_probability(image, None, model)  # scale guessed from the size; one tile
    assert guessed.shape == image.shape[:2]
    graph = OnnxSegmenter(export_onnx(model, tmp_path / "seg.onnx"))
    assert graph.px_per_mm == NET_PPM and graph.stride == 32
    via_onnx = ink_probability(image, ppm, graph, tile=64, overlap=16)
    assert np.abs(via_onnx - prob).max() < 1e-4
    with pytest.raises(ModelError, match="training mode"):
        ink_probability(image, ppm, model.train())
    with pytest.raises(ValueError, match="uint8"):
        ink_probability(image.astype(np.float32), ppm, model.eval())


def test_int8_graph_reads_as_the_fp32_one(folder, trained, tmp_path, clean_page):
    from vizecg.digitize.segment.quantize import calibration_tiles, main as quantize_main, quantize_onnx

    fp32 = export_onnx(load_segmenter(trained[0] / "model.pt"), tmp_path / "seg.onnx")
    tiles = calibration_tiles([str(folder)], pages=8, px_per_mm=NET_PPM, families=["hospital-3x4+1"])
    assert tiles.shape[1:] == (3, 384, 384) and tiles.dtype == np.float32 and len(tiles) == 2 * 4  # 2 such pages
    int8 = OnnxSegmenter(quantize_onnx(fp32, tmp_path / "seg_int8.onnx", tiles))
    assert int8.px_per_mm == NET_PPM and int8.stride == 32  # the metadata the tiling needs survives
    image = np.ascontiguousarray(clean_page.image[:301, :437])
    ppm = clean_page.truth.px_per_mm
    a, b = (ink_probability(image, ppm, g, tile=64, overlap=16) for g in (OnnxSegmenter(fp32), int8))
    assert np.abs(a - b).mean() < 0.02
    # validation and the left-out fold are never calibrated on: thermal-dots has one training page (fold 2) and
    # one validation page; hospital-3x4+1 above two training pages and a fold-10 one
    assert len(calibration_tiles([str(folder)], pages=8, px_per_mm=NET_PPM, families=["thermal-dots"])) == 4
    assert quantize_main(["--model", str(fp32), "--folders", str(folder), "--families", "limb-6",
                          "--out", str(tmp_path / "x.onnx")]) == 2 and not (tmp_path / "x.onnx").exists()


# --- scores -------------------------------------------------------------------------------------------------------
def test_pixel_scores():
    truth = np.zeros((20, 20), bool)
    truth[10, 2:18] = True
    assert scores(pixel_counts(truth, truth))["f1"] == 1.0
    shifted = np.roll(truth, 1, axis=0)
    assert scores(pixel_counts(shifted, truth))["f1"] == 0.0
    assert scores(pixel_counts(shifted, truth, tolerance_px=1))["f1"] == 1.0  # one pixel off is not wrong
    s = scores(pixel_counts(truth | np.roll(truth, 5, axis=0), truth))
    assert s["precision"] == 0.5 and s["recall"] == 1.0 and s["iou"] == pytest.approx(0.5)


def test_evaluation_against_the_classical_mask(folder, trained):
    pages = select_pages([str(folder)], "val")
    assert [p.fold for p in pages] == [9] and [p.fold for p in select_pages([str(folder)], "test")] == [10]
    result = evaluate_pages(pages, load_segmenter(trained[0] / "model.pt"), progress=False)
    assert set(result["methods"]) == {"classical", "classical_notext", "learned"}
    classical = result["methods"]["classical"]["tol1"]
    assert {"all", "family:thermal-dots", "photo:phone"} <= set(classical)
    assert classical["all"]["recall"] > 0.8  # the trace is dark ink: the classical mask finds it...
    assert classical["all"]["precision"] < 0.9  # ...with the dots, text and pulses beside it
    assert 0.0 <= result["methods"]["learned"]["strict"]["all"]["recall"] <= 1.0


# --- in the digitizer (trace_ink: learned) --------------------------------------------------------------------
class _DarkInk(torch.nn.Module):
    """A stand-in segmenter with the network's contract (px_per_mm, stride, logits): trace where the brightest
    channel is dark. It lets the digitizer's learned path be checked without shipped weights."""

    px_per_mm, stride = 4.0, 32

    def __init__(self, everything_paper: bool = False):
        super().__init__()
        self.everything_paper = everything_paper

    def forward(self, x):
        if self.everything_paper:
            return torch.full_like(x[:, :1], -20.0)
        return 40.0 * (0.45 - x.max(dim=1, keepdim=True).values)


@pytest.fixture(scope="module")
def page_3x4(record):
    from vizecg.render import RenderConfig, render_printout

    return render_printout(record, RenderConfig(layout="3x4+1", dpi=200), seed=0)


def test_learned_ink_is_the_default_and_a_missing_network_is_named(tmp_path, page_3x4):
    from vizecg.digitize import DigitizeConfig, digitize
    from vizecg.digitize.segment.infer import DEFAULT_SEGMENTER

    assert DigitizeConfig().trace_ink == "learned" and DigitizeConfig().segmenter == ""
    assert DEFAULT_SEGMENTER.is_file()  # shipped in the repository (vizecg/digitize/weights)
    with pytest.raises(ValueError, match="trace_ink"):
        DigitizeConfig(trace_ink="magic")
    with pytest.raises(ModelError, match="nope.pt"):  # named, not a traceback from torch.load
        digitize(page_3x4.image, DigitizeConfig(segmenter=str(tmp_path / "nope.pt")))


def test_digitizer_traces_on_the_learned_ink(monkeypatch, record, page_3x4):
    """The learned path reads the same page as well as the classical one when the network marks the same ink;
    where it marks none, no lead is made up."""
    from vizecg.digitize import DigitizeConfig, digitize, digitizer
    from vizecg.digitize.evaluate import score_page
    from vizecg.digitize.segment import infer
    from vizecg.errors import DigitizeError

    classical = digitize(page_3x4.image, DigitizeConfig(fs=record.fs, trace_ink="classical"))
    model = _DarkInk().eval()
    monkeypatch.setattr(infer, "load_ink_model", lambda path: model)
    cfg = DigitizeConfig(fs=record.fs, trace_ink="learned", segmenter="dark_ink.pt")
    learned = digitize(page_3x4.image, cfg)
    assert learned.found["trace_ink"]["source"] == "learned" and "trace_ink" not in classical.found
    snr_c = score_page(classical, record, page_3x4.truth)["snr_db"]
    snr_l = score_page(learned, record, page_3x4.truth)["snr_db"]
    assert snr_c > 20 and snr_l > snr_c - 2.0, (snr_c, snr_l)

    model.everything_paper = True  # a network that sees no trace: refused, never a made-up trace
    digitizer._page_cache.clear()  # the same file name and page: the page stage kept from above would be reused
    with pytest.raises(DigitizeError):
        digitize(page_3x4.image, cfg)
