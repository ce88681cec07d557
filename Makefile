# tcpkit: two commands on a fresh machine with only python3 — `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint tools clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tcpkit demo

# The suite needs tcpdump, tshark, nftables, ethtool and iproute2 for its oracle tests;
# as root they are installed when missing (CI runs as root). Lint runs first: ruff and
# mypy must stay clean.
test: $(STAMP) tools lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/tcpkit bench

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

tools:
	@scripts/install-tools

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
