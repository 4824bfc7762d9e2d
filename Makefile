# vipguard — every target does its own set-up on a fresh Debian 12 machine (run as root).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
SEEDS ?= 10000
SIM_SEEDS ?= 2000
FUZZ_RUNS ?= 1000000
FUZZ_SEED ?= 1
# auto: coverage-guided atheris (installed on demand) when it can be, else the seeded mutator.
FUZZ_ENGINE ?= auto
# Debian packages the tests and the demo use (installed only when missing).
# keepalived, frr (zebra + vrrpd) and tshark are peers of the interop tests.
# faketime steps an agent's wall clock in the recovery tests.
# prometheus gives promtool, which checks and unit-tests the example alert rules.
# groff-base and man-db render and find the manual pages that `make install` writes.
DEB_PACKAGES := iproute2 nftables procps keepalived frr tshark faketime prometheus groff-base man-db

# `make install`: the package in its own venv under $(PREFIX)/opt/vipguard (Debian 12's system
# Python refuses pip installs), the command in /usr/local/bin, the unit, the config directory,
# an example config and the vipguard user. DESTDIR stages it (no user, no systemctl).
DESTDIR ?=
OPT := $(DESTDIR)/opt/vipguard
BIN := $(DESTDIR)/usr/local/bin
UNIT_DIR := $(DESTDIR)/etc/systemd/system
CONF_DIR := $(DESTDIR)/etc/vipguard
MAN_DIR := $(DESTDIR)/usr/local/share/man
SHARE := $(DESTDIR)/usr/local/share
# Completion scripts, each where its shell looks for them.
COMPLETIONS := bash:bash-completion/completions/vipguard zsh:zsh/site-functions/_vipguard \
	fish:fish/vendor_completions.d/vipguard.fish
# Every Python distribution pinned (make constraints rewrites it), so installs are reproducible.
CONSTRAINTS := constraints.txt

.PHONY: help setup deb-packages test lint sim fuzz soak demo demo-sim bench bench-idle install uninstall constraints clean

# Every .PHONY target has a line here (tests/project/test_docs.py checks it).
help:
	@echo "make help         - this list"
	@echo "make demo         - run the main job: a namespaced load-balancer pair failing over (root)"
	@echo "make demo-sim     - the same story in the protocol simulator (no root)"
	@echo "make test         - set everything up and run every test layer"
	@echo "make lint         - ruff check, ruff format --check, mypy --strict vipguard (the whole package), import-direction check"
	@echo "make setup        - the Debian packages and a .venv with the package and its test tools"
	@echo "make deb-packages - install the missing Debian packages: $(DEB_PACKAGES)"
	@echo "make sim          - run SEEDS=$(SEEDS) random fault schedules through the simulator"
	@echo "make fuzz         - fuzz the codec and receive path with FUZZ_RUNS=$(FUZZ_RUNS) inputs"
	@echo "make soak         - 20 ms and 10 ms adverts under load beside keepalived, SOAK_SECONDS=$(SOAK_SECONDS) each (root)"
	@echo "make bench        - failover outage and idle cost, vipguard vs keepalived (root; BENCH_ARGS=--quick)"
	@echo "make bench-idle   - only the idle cost: CPU, wake-ups, memory at 1 s and 100 ms adverts (root; IDLE_ARGS=--seconds 30)"
	@echo "make install      - install under /opt/vipguard with the unit and the vipguard user (root; DESTDIR= stages)"
	@echo "make uninstall    - remove what install added; /etc/vipguard is kept"
	@echo "make constraints  - re-pin $(CONSTRAINTS) from a fresh venv of the package and its test tools"
	@echo "make clean        - remove the .venv and the tool caches"

deb-packages:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml $(CONSTRAINTS) | deb-packages
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e '.[test,lint]'
	touch $(STAMP)

setup: $(STAMP)

test: setup
	VIPGUARD_SIM_SEEDS=$(SIM_SEEDS) $(PY) -m pytest tests netns-tests

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict vipguard
	$(PY) tools/check_imports.py .

# Fast adverts under load, vipguard beside keepalived (root; SOAK_SECONDS per interval).
SOAK_SECONDS ?= 300
soak: setup deb-packages
	$(PY) bench/soak.py --seconds $(SOAK_SECONDS)

sim: setup
	$(PY) -m vipguard.sim --seeds $(SEEDS)

fuzz: setup
	@if [ "$(FUZZ_ENGINE)" != random ] && ! $(PY) -c 'import atheris' 2>/dev/null; then \
	  $(PY) -m pip install -q atheris || echo "atheris unavailable: the seeded mutator runs"; \
	fi
	$(PY) tools/fuzz_codec.py --runs $(FUZZ_RUNS) --seed $(FUZZ_SEED) --engine $(FUZZ_ENGINE)

demo: setup
	$(PY) netns-tests/demo.py

demo-sim: setup
	$(VENV)/bin/vipguard simulate --demo

# The benchmark's extra (matplotlib for the plot), installed editable like the rest.
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	touch $(BENCH_STAMP)

# `make bench BENCH_ARGS=--quick` for a run of a few minutes (2 reps, no 1 s adverts).
bench: setup $(BENCH_STAMP)
	$(PY) bench/failover.py $(BENCH_ARGS)

# Idle master and backup of both implementations, side by side (a few minutes; no matplotlib).
IDLE_ARGS ?=
bench-idle: setup deb-packages
	$(PY) bench/idle.py $(IDLE_ARGS)

install:
	rm -rf build  # setuptools packs whatever an earlier build left there, removed modules too
	$(PYTHON) -m venv $(OPT)
	$(OPT)/bin/python -m pip install -q --no-compile -c $(CONSTRAINTS) .
	$(OPT)/bin/python tools/manpages.py --out $(MAN_DIR) >/dev/null
	@for entry in $(COMPLETIONS); do \
	  shell=$${entry%%:*}; file=$(SHARE)/$${entry#*:}; install -d $$(dirname $$file); \
	  _VIPGUARD_COMPLETE=$${shell}_source $(OPT)/bin/vipguard > $$file; \
	done
	# The tree runs from /opt/vipguard once a package manager has moved it there from DESTDIR.
	$(OPT)/bin/python tools/relocate_venv.py $(OPT) /opt/vipguard
	install -d $(BIN) $(UNIT_DIR)
	ln -sfn /opt/vipguard/bin/vipguard $(BIN)/vipguard
	install -m 0644 systemd/vipguard.service $(UNIT_DIR)/vipguard.service
	install -d -m 0750 $(CONF_DIR)
	install -m 0640 examples/multicast-pair/lb1.toml $(CONF_DIR)/vipguard.toml.example
	@if [ -z "$(DESTDIR)" ]; then \
	  getent group vipguard >/dev/null || groupadd --system vipguard; \
	  getent passwd vipguard >/dev/null || useradd --system --gid vipguard --no-create-home \
	    --home-dir /var/lib/vipguard --shell /usr/sbin/nologin vipguard; \
	  chgrp vipguard $(CONF_DIR) $(CONF_DIR)/vipguard.toml.example; \
	  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	fi
	@echo "installed; write $(CONF_DIR)/vipguard.toml (see vipguard.toml.example, man vipguard.toml), then:"
	@echo "  vipguard check-config $(CONF_DIR)/vipguard.toml && systemctl enable --now vipguard"

uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
	  systemctl disable --now vipguard 2>/dev/null || true; \
	fi
	rm -f $(UNIT_DIR)/vipguard.service $(BIN)/vipguard $(CONF_DIR)/vipguard.toml.example
	rm -f $(MAN_DIR)/man8/vipguard.8 $(MAN_DIR)/man5/vipguard.toml.5
	@for entry in $(COMPLETIONS); do rm -f $(SHARE)/$${entry#*:}; done
	rm -rf $(OPT)
	@if [ -z "$(DESTDIR)" ]; then \
	  getent passwd vipguard >/dev/null && userdel vipguard || true; \
	  getent group vipguard >/dev/null && groupdel vipguard || true; \
	  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	fi
	@echo "uninstalled; $(CONF_DIR) is kept (your configuration)"

# A fresh venv resolves the newest versions pyproject allows; the pins are what it got.
constraints:
	rm -rf .constraints-venv
	$(PYTHON) -m venv .constraints-venv
	.constraints-venv/bin/python -m pip install -q '.[test,lint]'
	{ echo "# Pinned by \`make constraints\` for \`make install\` and \`make setup\`: every distribution"; \
	  echo "# that vipguard and its test tools need. Edit pyproject.toml, then re-run it."; \
	  .constraints-venv/bin/python -m pip freeze --exclude vipguard; } > $(CONSTRAINTS)
	rm -rf .constraints-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
