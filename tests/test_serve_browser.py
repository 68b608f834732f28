"""`vizecg serve` in a real browser: the CLI serves on a free localhost port, headless Chromium opens the form,
uploads a photographed ECG and then a page of text, and reads the rendered report (probability table, beat count)
and the refusal reason from the page. Not in `make test`; run it with `make test-browser`.

Needs Debian's Chromium and its driver (`apt-get install chromium chromium-driver`) and selenium
(`pip install -e '.[browser]'`). Selenium is pointed at /usr/bin/chromium and /usr/bin/chromedriver (override with
VIZECG_CHROMIUM / VIZECG_CHROMEDRIVER), so Selenium Manager never runs and nothing is downloaded.
VIZECG_SCREENSHOT=docs/serve.png also saves the rendered report page as that PNG (downscaled, < 300 kB).
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from hostile_inputs import text_page

pytestmark = pytest.mark.browser

INSTALL = "apt-get install chromium chromium-driver && pip install -e '.[browser]'"
CHROMIUM = Path(os.environ.get("VIZECG_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("VIZECG_CHROMEDRIVER", "/usr/bin/chromedriver"))
ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("NORM", "MI", "STTC", "CD", "HYP")  # the shipped classifier's
SERVE_START_S = 180  # torch, the detector and the classifier load first
REPORT_S = 300  # one page, on 2 busy CPU cores


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """`vizecg serve` (shipped weights) on a free port of 127.0.0.1; its URL while it runs."""
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "YOLO_OFFLINE": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.Popen([sys.executable, "-m", "vizecg.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + SERVE_START_S
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"vizecg serve did not start: {proc.communicate()[0][-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through the system chromedriver (a Service path: Selenium Manager is never asked)."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip(f"no Chromium at {CHROMIUM} / chromedriver at {CHROMEDRIVER}: {INSTALL}")
    webdriver = pytest.importorskip("selenium.webdriver", reason=f"selenium is not installed: {INSTALL}")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # were Selenium Manager ever called: no download
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                 "--disable-extensions", "--disable-background-networking", "--disable-sync",
                 "--disable-component-update", "--window-size=1200,1500", "--hide-scrollbars"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(REPORT_S)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def uploads(tmp_path_factory) -> dict[str, Path]:
    """A real PTB-XL record of the embedded sample, printed and photographed with a phone; a page of text."""
    import cv2

    from vizecg.data import load_source
    from vizecg.photo import photograph
    from vizecg.render import RenderConfig, render_printout

    d = tmp_path_factory.mktemp("uploads")
    src = load_source("sample")
    photo = photograph(render_printout(src.get(src.record_ids[2]), RenderConfig(dpi=150), seed=7), "phone", seed=7)
    paths = {"ecg": d / "ecg photo.jpg", "text": d / "letter.png"}
    cv2.imwrite(str(paths["ecg"]), cv2.cvtColor(photo.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(str(paths["text"]), text_page())
    return paths


def _upload(driver, url: str, path: Path) -> None:
    """Open the form, choose the file, submit, and wait for the answer page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    assert "not a medical device" in driver.find_element(By.TAG_NAME, "body").text
    driver.find_element(By.CSS_SELECTOR, "input[type=file][name=file]").send_keys(str(path))
    form = driver.find_element(By.TAG_NAME, "form")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, REPORT_S).until(ec.staleness_of(form))  # the form page is gone
    WebDriverWait(driver, REPORT_S).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _screenshot(driver, path: Path) -> None:
    """The top of the report (title, probabilities, the beats figure) as a small palette PNG."""
    from PIL import Image

    raw = path.with_suffix(".raw.png")
    driver.save_screenshot(str(raw))
    im = Image.open(raw).convert("RGB")
    im = im.resize((900, round(im.height * 900 / im.width)), Image.LANCZOS)
    im.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    raw.unlink()
    assert path.stat().st_size < 300_000, path.stat().st_size


def test_the_report_of_an_uploaded_photo_renders_in_a_browser(browser, server, uploads):
    from selenium.webdriver.common.by import By

    _upload(browser, server, uploads["ecg"])
    assert browser.title == "VizECG report"
    assert not browser.find_elements(By.CSS_SELECTOR, ".refused"), browser.find_element(By.TAG_NAME, "body").text
    heads = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    assert heads[0] == "Probabilities" and "Quality" in heads, heads
    table = browser.find_element(By.XPATH, "//h2[text()='Probabilities']/following-sibling::table[1]")
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")] for tr in table.find_elements(By.TAG_NAME, "tr")]
    rows = [r for r in rows if r]  # the header row holds th, not td
    assert tuple(r[0] for r in rows) == CLASSES
    probabilities = [float(r[1]) for r in rows]
    assert all(0.0 < p < 1.0 for p in probabilities) and all(r[3] in ("yes", "no") for r in rows)
    caption = browser.find_element(By.XPATH, "//img[@alt='beats']/following-sibling::figcaption").text
    beats = int(re.search(r"with the (\d+) beats", caption).group(1))
    assert beats >= 10, caption
    shown = browser.execute_script("return Array.from(document.images).filter(i => i.complete && "
                                   "i.naturalWidth > 100).length")
    assert shown >= 2, "the inlined figures (beats, traces, signal) decode in the browser"
    target = os.environ.get("VIZECG_SCREENSHOT")
    if target:
        _screenshot(browser, ROOT / target if not Path(target).is_absolute() else Path(target))


def test_a_page_of_text_is_refused_with_its_reason_in_the_browser(browser, server, uploads):
    from selenium.webdriver.common.by import By

    _upload(browser, server, uploads["text"])
    refusal = browser.find_element(By.CSS_SELECTOR, "p.refused").text
    assert refusal.startswith("Refused:") and "ECG" in refusal, refusal
    assert not browser.find_elements(By.XPATH, "//h2[text()='Probabilities']")


def test_a_file_that_is_no_image_is_refused_with_400_in_the_browser(browser, server, tmp_path):
    from selenium.webdriver.common.by import By

    notes = tmp_path / "notes.png"
    notes.write_text("not an image at all")
    _upload(browser, server, notes)
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "Refused (400)" in text and "not a readable image" in text, text
