# Set-up and everyday commands. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A CPU build of torch; set TORCH_SPEC to your own (e.g. a CUDA build) on GPU machines.
TORCH_SPEC ?= torch==2.13.0
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: install demo test test-slow lint format clean

$(BIN)/text2reward: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(BIN)/text2reward

install: $(BIN)/text2reward

demo: install
	$(BIN)/text2reward run --env CartPole-v1 \
		--task "keep the pole upright and the cart near the centre" \
		--model offline --samples 4 --rounds 3

# The fast suite in two test processes (pytest-xdist), a test file to each at a time (a file's
# tests share their fixtures, and the Ray tests one local cluster): 15:48 on the 2-core
# machine, against 31:48 in one process with a training beside it.
TEST_PROCESSES ?= 2

test: install
	$(BIN)/python -m pytest -q -n $(TEST_PROCESSES) --dist loadfile

test-slow: install
	$(BIN)/python -m pytest -q -m slow

lint: install
	$(BIN)/ruff check text2reward tests

format: install
	$(BIN)/ruff format text2reward tests

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
