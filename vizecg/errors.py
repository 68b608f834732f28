"""VizECG's own exception types: every bad input names the file (when there is one) and the problem."""
from __future__ import annotations

from pathlib import Path


class VizEcgError(Exception):
    """Base class. The CLI prints these as one clear line (no traceback) and exits with status 2."""

    def __init__(self, problem: str, path: str | Path | None = None):
        self.problem = problem
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class DataError(VizEcgError):
    """A record or dataset cannot be read or is inconsistent (missing file, bad header, NaN, shape...)."""


class ConfigError(VizEcgError):
    """A config file or override is malformed (unknown key, wrong type)."""


class RenderError(VizEcgError):
    """A record cannot be laid out on the requested page."""


class ModelError(VizEcgError):
    """A model name, checkpoint or weights file is unknown or does not match."""


class DigitizeError(VizEcgError):
    """An image holds no ECG that can be digitized with the requested settings. `evidence`: what was found of
    an ECG before the refusal (JSON-able; e.g. traced rows whose limb leads obey Einthoven's law but no lead
    above the confidence floor), for a caller that asks whether the page is an ECG at all."""

    def __init__(self, problem: str, path: str | Path | None = None, evidence: dict | None = None):
        super().__init__(problem, path)
        self.evidence = evidence


def first_line(exc: BaseException, limit: int = 200, with_type: bool = False) -> str:
    """A library exception's reason on one line (many span several lines, some are empty): for our messages.
    with_type: prefixed by the exception's class name ("EOFError", "ValueError: ...")."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    name = type(exc).__name__
    if not lines:
        return name
    return f"{name}: {lines[0][:limit]}" if with_type else lines[0][:limit]
