"""Limb leads that follow from two others (Einthoven's law and the Goldberger augmented leads)."""
from __future__ import annotations

import numpy as np

from vizecg.errors import DataError
from vizecg.record import STANDARD_LEADS, EcgRecord

DERIVED_FROM_I_II: dict[str, tuple[float, float]] = {  # lead = a * I + b * II
    "III": (-1.0, 1.0),
    "aVR": (-0.5, -0.5),
    "aVL": (1.0, -0.5),
    "aVF": (-0.5, 1.0),
}


def derive_limb_leads(record: EcgRecord) -> EcgRecord:
    """Add III, aVR, aVL, aVF computed from I and II where the record lacks them.

    Leads already present are kept as recorded. The result lists the standard leads in 12-lead order,
    then any other leads (e.g. MLII) in their original order."""
    missing = [name for name in ("I", "II") if name not in record.lead_names]
    if missing:
        raise DataError(f"record {record.record_id}: cannot derive limb leads without lead(s) {', '.join(missing)}",
                        record.source or None)
    lead_i, lead_ii = record.lead("I"), record.lead("II")
    rows = dict(zip(record.lead_names, record.signal))
    for name, (a, b) in DERIVED_FROM_I_II.items():
        if name not in rows:
            rows[name] = a * lead_i + b * lead_ii
    order = [n for n in STANDARD_LEADS if n in rows] + [n for n in record.lead_names if n not in STANDARD_LEADS]
    signal = np.stack([rows[n] for n in order]).astype(np.float32)
    return record.with_signal(signal, lead_names=tuple(order))
