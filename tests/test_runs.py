"""Run folders: a fingerprint of the settings, refused stale resumes, one writer at a time, one log per run."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field

import pytest

from vizecg.runs import (FINGERPRINT, FolderLockedError, StaleOutputError, check_resume, claim_run, code_stamp,
                         describe_changes, file_hash, git_commit, settings_fingerprint, source_hash, start_run,
                         writer_lock)


@dataclass(frozen=True)
class Inner:
    dpi: int = 200


@dataclass(frozen=True)
class Job:
    n: int = 2
    records: tuple[str, ...] = ("a", "b")
    photo: str = "none"
    inner: Inner = field(default_factory=Inner)


def snapshot(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_fingerprint_is_the_settings_their_hash_and_the_version():
    fp = settings_fingerprint(Job())
    assert fp["settings"] == {"n": 2, "records": ["a", "b"], "photo": "none", "inner": {"dpi": 200}}
    assert fp["vizecg"] and len(fp["hash"]) == 16
    assert settings_fingerprint(fp["settings"])["hash"] == fp["hash"]  # a mapping read back hashes the same
    assert settings_fingerprint(Job(inner=Inner(300)))["hash"] != fp["hash"]


def test_resume_with_other_settings_is_refused_naming_each(tmp_path):
    with claim_run(tmp_path / "run", Job()):
        pass
    fingerprint = tmp_path / "run" / FINGERPRINT
    assert json.loads(fingerprint.read_text())["settings"]["inner"] == {"dpi": 200}
    mtime = fingerprint.stat().st_mtime_ns
    time.sleep(0.01)
    with claim_run(tmp_path / "run", Job()):
        pass
    assert fingerprint.stat().st_mtime_ns == mtime  # rewritten only when the settings change
    check_resume(tmp_path / "run", Job())  # the same settings resume
    check_resume(tmp_path / "run", Job(n=5), grows=("n",))  # a larger n extends the folder
    with pytest.raises(StaleOutputError) as exc:
        check_resume(tmp_path / "run", Job(photo="phone", inner=Inner(300)))
    msg = str(exc.value)
    assert msg.startswith(str(tmp_path / "run")) and "\n" not in msg
    assert 'photo: "none" (in run) vs "phone" (now); inner.dpi: 200 (in run) vs 300 (now)' in msg
    assert "new --out" in msg and "--overwrite" in msg
    with pytest.raises(StaleOutputError, match=r"n: 2 \(in run\) vs 1 \(now, may only grow\)"):
        check_resume(tmp_path / "run", Job(n=1), grows=("n",))
    with pytest.raises(StaleOutputError, match="n: 2 .in run. vs 5 .now."):
        check_resume(tmp_path / "run", Job(n=5))
    check_resume(tmp_path / "run", Job(photo="phone"), overwrite=True)  # the caller redoes the folder


def test_folder_with_files_but_no_fingerprint_is_refused(tmp_path):
    check_resume(tmp_path / "missing", Job())
    (tmp_path / "hidden").mkdir()
    (tmp_path / "hidden" / ".lock").touch()
    check_resume(tmp_path / "hidden", Job())
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.csv").write_text("id\n")
    with pytest.raises(StaleOutputError, match="holds files but no fingerprint.json"):
        check_resume(tmp_path / "old", Job())


def test_a_refused_claim_writes_nothing(tmp_path):
    out = tmp_path / "run"
    with claim_run(out, Job()):
        (out / "item.txt").write_text("made at 200 dpi")
    before = snapshot(out)
    with pytest.raises(StaleOutputError, match="inner.dpi"):
        with claim_run(out, Job(inner=Inner(300))):
            (out / "item.txt").write_text("never")
    assert snapshot(out) == before
    # A legacy folder is not even given a .lock.
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "page.png").write_bytes(b"x")
    with pytest.raises(StaleOutputError):
        with claim_run(tmp_path / "old", Job()):
            pass
    assert [p.name for p in (tmp_path / "old").iterdir()] == ["page.png"]


def test_overwrite_deletes_only_the_named_outputs_then_fingerprints(tmp_path):
    out = tmp_path / "run"
    with claim_run(out, Job()):
        (out / "labels").mkdir()
        (out / "labels" / "a.json").write_text("{}")
        (out / "manifest.csv").write_text("id\n")
    (out / "notes.txt").write_text("the user's")
    with claim_run(out, Job(photo="phone"), overwrite=True, outputs=("labels", "manifest.csv", "summary.json")):
        assert not (out / "labels").exists() and not (out / "manifest.csv").exists()
    assert (out / "notes.txt").read_text() == "the user's"
    assert json.loads((out / FINGERPRINT).read_text())["settings"]["photo"] == "phone"


def test_second_writer_is_refused_and_the_lock_goes_with_the_holder(tmp_path):
    out = tmp_path / "run"
    with writer_lock(out):
        with pytest.raises(FolderLockedError, match=r"another process \(pid \d+\) is writing into this folder"):
            with writer_lock(out):
                pass
    with writer_lock(out):  # released at the end of the block
        pass
    # A writer in another process: refused while it lives, free once it dies (killed, no clean-up).
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom vizecg.runs import writer_lock\n"
        f"with writer_lock({str(out)!r}):\n    print('locked', flush=True)\n    time.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderLockedError) as exc:
            with claim_run(out, Job()):
                pass
        assert str(exc.value).startswith(str(out)) and f"pid {holder.pid}" in str(exc.value)
        assert not (out / FINGERPRINT).exists()
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 10
    while True:
        try:
            with claim_run(out, Job()):
                break
        except FolderLockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_a_second_run_logs_only_into_its_own_folder(tmp_path):
    log = start_run(tmp_path / "a", name="vizecg.test_runs")
    log.info("first run")
    log = start_run(tmp_path / "b", name="vizecg.test_runs")
    log.info("second run")
    for h in log.handlers:
        h.flush()
    assert "second run" not in (tmp_path / "a" / "log.txt").read_text()
    assert "second run" in (tmp_path / "b" / "log.txt").read_text()


def test_source_hash_follows_the_named_files_only(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "sub" / "b.py").write_text("y = 2\n")
    (tmp_path / "other.py").write_text("z = 3\n")
    patterns = ("pkg/**/*.py",)
    first = source_hash(patterns, tmp_path)
    assert len(first) == 16 and source_hash(patterns, tmp_path) == first
    (tmp_path / "other.py").write_text("z = 4\n")  # outside the patterns: nothing to redo
    assert source_hash(patterns, tmp_path) == first
    (tmp_path / "pkg" / "sub" / "b.py").write_text("y = 3\n")
    assert source_hash(patterns, tmp_path) != first
    assert source_hash(("missing/*.py",), tmp_path) != source_hash(("gone/*.py",), tmp_path)  # a move shows
    assert source_hash(patterns, tmp_path, libraries=("numpy",)) != source_hash(patterns, tmp_path)


def test_code_stamp_records_the_commit_where_there_is_one(tmp_path):
    assert git_commit(tmp_path) is None  # an installed package, or a folder without git
    stamp = code_stamp(("*.py",), tmp_path)
    assert stamp["commit"] is None and len(stamp["source_hash"]) == 16 and stamp["vizecg"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "a.py").write_text("x = 1\n")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    import os

    for cmd in (["add", "a.py"], ["commit", "-q", "-m", "one"]):
        subprocess.run(["git", "-C", str(tmp_path), *cmd], check=True, env={**os.environ, **env})
    git = git_commit(tmp_path)
    assert len(git["commit"]) == 40 and git["dirty"] is False
    (tmp_path / "a.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == {"commit": git["commit"], "dirty": True}


def test_describe_changes_and_file_hash(tmp_path):
    assert describe_changes({"a": {"b": 1}, "c": 2}, {"a": {"b": 1}, "c": 2}) == ""
    assert describe_changes({"a": {"b": 1}}, {"a": {"b": 2}, "d": "x"}) == 'd: (unset) -> "x"; a.b: 1 -> 2'
    (tmp_path / "w.pt").write_bytes(b"weights")
    digest = file_hash(tmp_path / "w.pt")
    (tmp_path / "w.pt").write_bytes(b"weights!")
    assert len(digest) == 16 and file_hash(tmp_path / "w.pt") != digest
