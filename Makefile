# Two commands do everything on a fresh machine with Python 3.11+:
#   make demo   -> create .venv, install, run the whole review on built-in synthetic data
#   make test   -> create .venv, install, lint and run the full test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OUT    ?= outputs

.PHONY: setup demo test lint notebooks bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/sgreview demo --out $(OUT)

lint: setup
	$(BIN)/ruff check sgreview tests benchmarks

test: setup lint
	$(BIN)/python -m pytest -p no:cacheprovider
	# nbval on a copy, so the demo data and outputs the notebooks' defaults write stay out of the tree
	tmp=$$(mktemp -d) && cp -r notebooks $$tmp/ && (cd $$tmp && $(abspath $(BIN))/python -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env notebooks); rc=$$?; rm -rf $$tmp; exit $$rc

bench: setup
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
