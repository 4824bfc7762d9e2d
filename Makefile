# vipguard — every target does its own set-up on a fresh Debian 12 machine (run as root).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SEEDS ?= 10000
SIM_SEEDS ?= 2000
# Debian packages the tests and the demo use (installed only when missing).
# keepalived and tshark are peers of the interop tests.
DEB_PACKAGES := iproute2 nftables procps keepalived tshark

.PHONY: help setup deb-packages test lint sim demo demo-sim clean

help:
	@echo "make demo   - run the main job: a namespaced load-balancer pair failing over (root)"
	@echo "make test   - set everything up and run every test layer"
	@echo "make lint   - ruff, mypy --strict on vipguard/proto, import-direction check"
	@echo "make sim    - run SEEDS=$(SEEDS) random fault schedules through the simulator"

deb-packages:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml | deb-packages
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,lint]'
	touch $(STAMP)

setup: $(STAMP)

test: setup
	VIPGUARD_SIM_SEEDS=$(SIM_SEEDS) $(PY) -m pytest tests netns-tests

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict vipguard/proto
	$(PY) tools/check_imports.py .

sim: setup
	$(PY) -m vipguard.sim --seeds $(SEEDS)

demo: setup
	$(PY) netns-tests/demo.py

demo-sim: setup
	$(VENV)/bin/vipguard simulate --demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
