# Entry points a newcomer needs: `make predict` (the main job, on the embedded example photo), `make demo`
# (the research pipeline) and `make test` (the suite).
# Each creates the virtual environment on first use.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.vizecg-deps-$(shell cat pyproject.toml requirements-nodeps.txt | sha256sum | cut -c1-16)
export HF_HUB_OFFLINE=1
export YOLO_OFFLINE=1
export YOLO_AUTOINSTALL=False
export NO_ALBUMENTATIONS_UPDATE=1
export YOLO_CONFIG_DIR ?= $(CURDIR)/.yolo
export MPLBACKEND=Agg

.PHONY: venv predict demo test test-slow test-browser benchmark clean

$(STAMP): pyproject.toml requirements-nodeps.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# ultralytics without its opencv-python dependency (see pyproject.toml)
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	rm -f $(VENV)/.vizecg-deps-*
	touch $@

venv: $(STAMP)
	@# a cached venv may point at another checkout: re-link this one (seconds)
	@$(BIN)/python -c "import vizecg, os, sys; sys.exit(0 if os.path.samefile(os.path.dirname(vizecg.__file__), 'vizecg') else 1)" 2>/dev/null \
	  || $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .

# the main job: the embedded example photo -> out/predict/report.html (open it in a browser)
predict: venv
	rm -rf out/predict  # this target's own folder: a report of older weights is refused, not mixed
	$(BIN)/vizecg predict vizecg/sample_data/example_photo.jpg --out out/predict
	@echo "open out/predict/report.html"

demo: venv
	$(BIN)/vizecg demo

test: venv
	$(BIN)/python -m pytest -m "not slow and not browser"

test-slow: venv
	$(BIN)/python -m pytest -m slow

# vizecg serve in headless Chromium (tests/test_serve_browser.py). Needs Debian's browser and its driver first:
#   sudo apt-get install chromium chromium-driver
# selenium (the `browser` extra) is installed here; it drives /usr/bin/chromium and downloads nothing.
# VIZECG_SCREENSHOT=docs/serve.png make test-browser also saves the rendered report page (docs/serve.md).
test-browser: venv
	$(BIN)/python -m pip install --quiet --no-build-isolation -e '.[browser]'
	$(BIN)/python -m pytest -m browser tests/test_serve_browser.py

clean:
	rm -rf $(VENV) .yolo .pytest_cache
