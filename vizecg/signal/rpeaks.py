"""R-peak detection on one ECG lead (any polarity, any rate) and its multi-lead wrapper.

The detector follows Hamilton & Tompkins (IEEE TBME 1986; the OSEA detector): a QRS-energy feature
(5-15 Hz band-pass -> |derivative| -> 80 ms moving average), candidate peaks at least 200 ms apart,
an adaptive threshold between the medians of recent QRS and noise peak heights, search-back for beats
missed in a long RR gap, and T-wave rejection by slope. Each detection is then moved to the R extremum
of the broadly band-passed lead, with the polarity chosen per beat.
"""
from __future__ import annotations

from collections import deque

import numpy as np
from scipy import ndimage, signal

from vizecg.errors import DataError
from vizecg.signal._arrays import as_leads, check_fs
from vizecg.signal.filters import bandpass

REFRACTORY_S = 0.2  # no two QRS complexes closer than this (max ~300 bpm)
T_WAVE_WINDOW_S = 0.36  # a candidate this close to the last beat may be its T wave
SEARCHBACK_RR = 1.5  # look back for a missed beat once the gap exceeds this many median RRs
THRESHOLD_FRACTION = 0.45  # between noise and QRS medians; H&T used 0.3125, 0.45 trades 0.07 % Se for 0.2 % PPV on MIT-BIH
HISTORY = 8  # beats / noise peaks in the running medians
P_WAVE_WINDOW_S = 0.3  # a far larger complex this soon after a "beat" shows that beat was its P wave
P_WAVE_RATIO = 1.8  # ... far larger: this many times steeper or taller
QRS_BAND_HZ = (8.0, 20.0)  # where QRS energy dominates P and T waves (and most baseline and mains noise)


def qrs_feature(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """(feature, slope): 80 ms moving average of |d/dt| of the 5-15 Hz band, and |d/dt| itself."""
    band = bandpass(x, fs, *QRS_BAND_HZ, order=2).astype(np.float64)
    slope = np.abs(np.gradient(band)) * fs
    feature = ndimage.uniform_filter1d(slope, size=max(int(round(0.08 * fs)), 1), mode="nearest")
    return feature, slope


def detect_rpeaks(x: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices (sorted, int64) of the R peaks of one lead `x` (mV) sampled at `fs` Hz."""
    fs = check_fs(fs)
    x2d, was_1d = as_leads(x, "lead")
    if not was_1d and x2d.shape[0] != 1:
        raise DataError(f"detect_rpeaks takes one lead, got shape {x2d.shape}; use detect_rpeaks_multilead")
    lead = x2d[0]
    if len(lead) < int(fs):  # too short for a beat and its neighbours
        return np.zeros(0, dtype=np.int64)
    feature, slope = qrs_feature(lead, fs)
    cand, _ = signal.find_peaks(feature, distance=max(int(REFRACTORY_S * fs), 1))
    beats = _classify_candidates(cand, feature[cand], _max_slope(slope, cand, fs), fs)
    return _refine_to_r(lead, fs, beats)


def _max_slope(slope: np.ndarray, cand: np.ndarray, fs: float) -> np.ndarray:
    # Steepest slope within +-75 ms of each candidate (T waves are slower than QRS complexes).
    half = max(int(round(0.075 * fs)), 1)
    local = ndimage.maximum_filter1d(slope, size=2 * half + 1, mode="nearest")
    return local[cand]


def _classify_candidates(cand: np.ndarray, height: np.ndarray, steep: np.ndarray, fs: float) -> np.ndarray:
    """The sequential part: adaptive threshold, T-wave rejection and search-back over the candidates."""
    if len(cand) == 0:
        return cand
    refractory, t_window = int(REFRACTORY_S * fs), int(T_WAVE_WINDOW_S * fs)
    # Start-up (as Hamilton & Tompkins): the largest candidate in each of the first 8 seconds fills the QRS
    # history, so an early run of small ectopic beats is not judged against the single tallest complex.
    second = (cand // int(fs)).astype(np.int64)
    per_second = [float(height[second == k].max()) for k in range(HISTORY) if (second == k).any()]
    per_second = per_second or [float(height.max())]
    qrs = deque((per_second * HISTORY)[:HISTORY], maxlen=HISTORY)
    noise = deque([0.0] * HISTORY, maxlen=HISTORY)
    rr = deque([int(fs)] * HISTORY, maxlen=HISTORY)
    is_beat = np.zeros(len(cand), dtype=bool)
    last = -10 * int(fs)  # index in samples of the last accepted beat
    last_steep = 0.0
    last_i = -1  # candidate index of the last accepted beat

    def threshold() -> float:
        qn, nn = np.median(qrs), np.median(noise)
        return nn + THRESHOLD_FRACTION * (qn - nn)

    def accept(i: int) -> None:
        nonlocal last, last_steep, last_i
        if last >= 0:
            rr.append(int(cand[i] - last))
        qrs.append(float(height[i]))
        is_beat[i] = True
        last, last_steep, last_i = int(cand[i]), float(steep[i]), i

    def retract_last() -> None:
        nonlocal last, last_steep, last_i
        is_beat[last_i] = False
        qrs.pop()
        noise.append(float(height[last_i]))
        rr.pop()
        prev = np.flatnonzero(is_beat[:last_i])
        last_i = int(prev[-1]) if len(prev) else -1
        last = int(cand[last_i]) if last_i >= 0 else -10 * int(fs)
        last_steep = float(steep[last_i]) if last_i >= 0 else 0.0

    for i in range(len(cand)):
        t = int(cand[i])
        # Search-back: a gap far longer than the usual RR means a beat was missed; take the largest
        # candidate in the gap if it reaches half the threshold.
        while last_i >= 0 and t - last > SEARCHBACK_RR * np.median(rr):
            lo = last_i + 1
            window = [j for j in range(lo, i) if not is_beat[j] and cand[j] - last > t_window]
            if not window:
                break
            j = max(window, key=lambda k: height[k])
            if height[j] < 0.5 * threshold():
                break
            accept(j)
        if height[i] <= threshold():
            noise.append(float(height[i]))
        elif last_i >= 0 and t - last < P_WAVE_WINDOW_S * fs and max(
                steep[i] / max(last_steep, 1e-12), height[i] / max(height[last_i], 1e-12)) > P_WAVE_RATIO:
            retract_last()  # the "beat" just before was a tall P wave or artefact, this is its QRS
            accept(i)
        elif t - last <= refractory:
            noise.append(float(height[i]))
        elif t - last < t_window and steep[i] < 0.5 * last_steep:
            noise.append(float(height[i]))  # the previous beat's T wave
        else:
            accept(i)
    return cand[is_beat]


def _refine_to_r(lead: np.ndarray, fs: float, beats: np.ndarray) -> np.ndarray:
    """Move each detection to the R extremum, positive or negative per beat.

    Two steps, because a tall P or T wave can out-reach the QRS in the raw lead: first the largest
    |QRS band| within +-80 ms (only the QRS is large there), then the largest |deviation| of the 0.5-40 Hz
    lead within +-30 ms of that, so the mark sits on the visible peak."""
    if len(beats) == 0:
        return beats.astype(np.int64)
    qrs_band = np.abs(bandpass(lead, fs, *QRS_BAND_HZ, order=2).astype(np.float64))
    broad = bandpass(lead, fs, 0.5, 40.0, order=2).astype(np.float64)
    coarse = _argmax_near(qrs_band, beats, int(round(0.08 * fs)))
    # Deviation from the level 150 ms around the beat, so baseline offset does not pick the side.
    wide = _window(broad, coarse, int(round(0.15 * fs)))
    level = np.median(wide, axis=1)
    near = _window(broad, coarse, int(round(0.03 * fs)))
    half = int(round(0.03 * fs))
    pick = np.argmax(np.abs(near - level[:, None]), axis=1)
    peaks = np.clip(coarse + pick - half, 0, len(lead) - 1)
    peaks = np.unique(peaks)
    # Two detections refined onto the same complex: keep one.
    keep = np.concatenate([[True], np.diff(peaks) > int(REFRACTORY_S * fs * 0.5)])
    return peaks[keep].astype(np.int64)


def _window(x: np.ndarray, centres: np.ndarray, half: int) -> np.ndarray:
    idx = np.clip(centres[:, None] + np.arange(-half, half + 1)[None, :], 0, len(x) - 1)
    return x[idx]  # (beats, 2 * half + 1)


def _argmax_near(x: np.ndarray, centres: np.ndarray, half: int) -> np.ndarray:
    return np.clip(centres + np.argmax(_window(x, centres, half), axis=1) - half, 0, len(x) - 1)


def detect_rpeaks_multilead(sig: np.ndarray, fs: float) -> np.ndarray:
    """R peaks of a (leads, samples) record: detect on the lead whose QRS stands out most from its noise
    (ratio of the 99th to the 50th percentile of the QRS feature), which copes with a flat or noisy lead."""
    fs = check_fs(fs)
    x2d, _ = as_leads(sig, "signal")
    if x2d.shape[0] == 1:
        return detect_rpeaks(x2d[0], fs)
    if x2d.shape[-1] < int(fs):
        return np.zeros(0, dtype=np.int64)
    scores = []
    for row in x2d:
        feature, _ = qrs_feature(row, fs)
        scores.append(np.percentile(feature, 99) / (np.percentile(feature, 50) + 1e-9))
    return detect_rpeaks(x2d[int(np.argmax(scores))], fs)
