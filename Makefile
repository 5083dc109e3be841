# One-command set-up: `make run` starts the lab, `make test` passes the tests (fresh machine OK).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.stamp-run
STAMP_DEV := $(VENV)/.stamp-dev
PORT ?= 8501
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache

.PHONY: run serve test lint typecheck pytest bench venv chromium haproxy clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP_RUN): requirements.txt | $(BIN)/python
	@echo "installing requirements.txt into $(VENV) (once, about 80 s on a fresh machine; pip's progress below)"
	$(BIN)/pip install --progress-bar on -r requirements.txt
	@echo "requirements installed"
	touch $@

$(STAMP_DEV): requirements.txt requirements-dev.txt $(STAMP_RUN)
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

venv: $(STAMP_DEV)

run: $(STAMP_RUN)
	$(BIN)/python -m ui.precompile > .precompile.log 2>&1 &
	LOWBIT_WARM_POOL=1 $(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT) --server.headless true

# A class: PROCS Streamlit processes (default one per core) behind HAProxy on 0.0.0.0:$(PORT).
PROCS ?= 0
HOST ?= 0.0.0.0
serve: $(STAMP_RUN) haproxy
	$(BIN)/python -m ui.serve --host $(HOST) --port $(PORT) --procs $(PROCS)

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium (once)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; }

haproxy:
	@command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || { \
	  echo "installing Debian haproxy (once), the reverse proxy of make serve"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq haproxy >/dev/null; }

lint: $(STAMP_DEV)
	$(BIN)/ruff check .

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

pytest: $(STAMP_DEV) chromium haproxy
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

test: lint typecheck pytest

bench: $(STAMP_DEV)
	for b in quantize pages grad_variance training live_runs dynamics scaling_laws tensor rng_cost sweep; do $(BIN)/python bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) .numba_cache .mypy_cache .ruff_cache .pytest_cache test-output
