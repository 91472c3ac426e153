# livemarket: every target creates .venv (Python >= 3.12) and installs the project when needed.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SCENARIO ?= china-2019-2024
DAYS ?= 1096
CONSUMERS ?= 10000
SEED ?= 1
OUT ?= results/$(SCENARIO)

.PHONY: run test bench bench-engine bench-sweep lint clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || "$$(tools/find-python.sh)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,viz]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/livemarket run $(SCENARIO) --days $(DAYS) --consumers $(CONSUMERS) --seed $(SEED) --out $(OUT)
	$(VENV)/bin/livemarket figures $(OUT) --out $(OUT)/figures

test: $(STAMP)
	$(PY) -m pytest -q

bench: bench-engine bench-sweep

bench-engine: $(STAMP)
	$(PY) benchmarks/run.py

bench-sweep: $(STAMP)
	$(PY) benchmarks/sweep_overhead.py --runs 200 --repeat 3

lint: $(STAMP)
	$(VENV)/bin/ruff check livemarket tests benchmarks

clean:
	rm -rf $(VENV) results .pytest_cache
