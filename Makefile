# `make test` and `make reproduce` create .venv on first use, then run.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= quick

.PHONY: test reproduce venv clean-venv default-model

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

reproduce: $(STAMP)
	$(BIN)/ccdnb reproduce --profile $(PROFILE)

clean-venv:
	rm -rf $(VENV)

# The recipe of the model shipped in ccdnb/models/ (about 45 minutes on 2 CPU cores):
# 1300 simulated 256x256 images (thesis layout, the random preset's wide detector ranges
# including skipper CCDs, sparse DAMIC-like fields), then the held-out evaluation.
DEFAULT_MODEL_RUN := runs/default-model
default-model: $(STAMP)
	$(BIN)/ccdnb simulate --preset thesis --n 300 --size 256 --seed 101 --out $(DEFAULT_MODEL_RUN)/thesis.npz
	$(BIN)/ccdnb simulate --preset random --n 700 --size 256 --seed 102 --out $(DEFAULT_MODEL_RUN)/random.npz
	$(BIN)/ccdnb simulate --preset damic --n 300 --size 256 --seed 103 --out $(DEFAULT_MODEL_RUN)/damic.npz
	$(BIN)/ccdnb train --data $(DEFAULT_MODEL_RUN)/thesis.npz $(DEFAULT_MODEL_RUN)/random.npz \
	  $(DEFAULT_MODEL_RUN)/damic.npz --out-dir $(DEFAULT_MODEL_RUN)/model --architecture small \
	  --epochs 60 --steps-per-epoch 50 --batch-size 8 --optimizer adam --loss cce \
	  --augment default --seed 7
	cp $(DEFAULT_MODEL_RUN)/model/model.keras ccdnb/models/default.keras
	cp $(DEFAULT_MODEL_RUN)/model/model.card.json ccdnb/models/default.card.json
	$(BIN)/python benchmarks/heldout_evaluation.py
