"""The command line: a library error becomes one clear line and exit status 2, never a traceback."""
import pytest

from vizecg.cli import build_parser, main


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "COMMAND" in out


def test_offline_variables_and_font_are_set(monkeypatch, tmp_path):
    import os

    from vizecg.offline import configure_offline

    monkeypatch.delenv("YOLO_OFFLINE", raising=False)
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "yolo"))
    cfg = configure_offline()
    assert os.environ["YOLO_OFFLINE"] == "1" and os.environ["HF_HUB_OFFLINE"] == "1"
    assert (cfg / "Arial.ttf").stat().st_size > 100_000  # a real TTF, so ultralytics never downloads one
    assert build_parser().prog == "vizecg"
