# The two commands of the README: `make run` and `make test`.
# Both (re)build .venv from requirements/lock.txt when it is missing or older than the pins.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

.PHONY: run test venv bench clean

$(STAMP): requirements/lock.txt requirements/torch.txt requirements/no-deps.txt setup.cfg
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/lock.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/torch.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -r requirements/no-deps.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)   # make run ARGS="--eval-data PATH_TO_LABELLED_STORE"
	$(PY) -m seis_keras.recipes.detector --profile quick $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests

BENCH ?= pipeline
bench: $(STAMP)   # make bench BENCH=pipeline|train|train_path|synthetic|explain|explain_lrp|scan|precursor
	$(PY) bench/$(BENCH).py

clean:
	rm -rf $(VENV) runs build *.egg-info
