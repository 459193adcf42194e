# The README's two commands, `make demo` and `make test`, do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
UV_VERSION := 0.13.9
# Set USE_PIP=1 to install with plain pip instead of uv.
USE_PIP ?=
PYTEST_ARGS ?=
# Some environments set PYTHONDONTWRITEBYTECODE=1: every Airflow subprocess would then recompile
# Airflow from source (about 10 s each). Byte-code is compiled at install and kept.
export PYTHONDONTWRITEBYTECODE :=

.PHONY: venv test demo lint format bench bench-normalize bench-sync bench-lake-state emulator lock clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if [ -z "$(USE_PIP)" ] && $(PY) -m pip install -q "uv==$(UV_VERSION)"; then \
		echo "installing with uv"; \
		$(VENV)/bin/uv pip install --python $(PY) --compile-bytecode -r requirements.txt && \
		$(VENV)/bin/uv pip install --python $(PY) --no-deps -e . ; \
	else \
		echo "installing with pip"; \
		$(PY) -m pip install -q -r requirements.txt && \
		$(PY) -m pip install -q --no-deps -e . ; \
	fi
	touch $@

test: venv
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

demo: venv
	$(PY) scripts/demo.py

bench: bench-normalize bench-sync bench-lake-state

bench-normalize: venv
	$(PY) bench/normalize.py

bench-sync: venv
	$(PY) bench/sync.py

bench-lake-state: venv
	$(PY) bench/lake_state.py

emulator: venv
	$(VENV)/bin/tiktok-portability emulator --host 127.0.0.1 --port 8765

# Re-resolve the pinned lock from requirements.in (needs the package registry).
lock: venv
	$(VENV)/bin/uv pip compile requirements.in --python-version 3.11 -o requirements.txt

clean:
	rm -rf $(VENV) .demo .bench .pytest_cache .ruff_cache
