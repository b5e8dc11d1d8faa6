# Two commands set everything up on a machine with Python 3.11+ and make:
#   make report   run the notebooks headless and publish reports/<as-of>-<name>/
#   make test     run every test (in parallel, one worker per core)
# Both create .venv and install notelib with its dev and test extras when .venv is missing
# or pyproject.toml changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
REPORT_ARGS ?=
PYTEST_ARGS ?=

# Python keeps each module's bytecode, and pytest each test module's rewritten asserts, under
# __pycache__ (ignored by git): on a machine that sets PYTHONDONTWRITEBYTECODE every process
# compiled them again (2.5 s of each test worker's collection)
unexport PYTHONDONTWRITEBYTECODE

.DEFAULT_GOAL := help
.PHONY: help install report test check lab clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,test]'
	@# the engine's compiled loop into numba's cache, once: a process that finds none compiles
	@# it (8 s of a core), on a fresh clone every test worker and report kernel side by side
	$(BIN)/python -c 'from notelib.engine.kernel import warm; warm()'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install notelib with its dev and test extras

report: $(STAMP) ## run every notebook for every data/params file into reports/ (REPORT_ARGS=...)
	$(BIN)/notelib report $(REPORT_ARGS)

# tests run on every core (the test reports are published once, tests/test_notebooks.py);
# so each worker fits its valuations on one thread (notelib.limits.threads). A worker that runs
# out of tests takes some of another's (worksteal): with xdist's default the heavy valuation
# tests queued on one worker kept it busy 160 s after the other had finished
XDIST := -n auto --dist worksteal
test check: export NOTELIB_THREADS ?= 1

# the total time and the slowest tests are printed for people (no test asserts a time)
DURATIONS := --durations=15 --durations-min=5

test: $(STAMP) ## run every test, in parallel: before you commit (PYTEST_ARGS=...)
	$(BIN)/python -m pytest $(XDIST) $(DURATIONS) $(PYTEST_ARGS)

check: $(STAMP) ## the inner loop while you work: every test not marked slow (PYTEST_ARGS=...)
	$(BIN)/python -m pytest $(XDIST) -m "not slow" $(DURATIONS) $(PYTEST_ARGS)

lab: $(STAMP) ## open JupyterLab on the notebooks (--allow-root only when run as root)
	$(BIN)/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root,)

clean: ## remove .venv and caches (reports/ is kept)
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
