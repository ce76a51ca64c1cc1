# seqbench: two commands on a fresh machine -> `make test`, `make benchmark`.
# Each target creates/refreshes the project venv by itself (CPU torch wheel first).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed
SUITE  ?= quick

.PHONY: install test benchmark benchmark-full benchmark-paper benchmark-peers report clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Re-install when the project's requirements change.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e ".[test,bench]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

# The report is written even when some cells failed; the run's exit code is kept.
benchmark: $(STAMP)
	$(PY) -m seqbench run $(SUITE); status=$$?; $(PY) -m seqbench report --suite $(SUITE) && exit $$status

benchmark-full:
	$(MAKE) benchmark SUITE=full

benchmark-paper:
	$(MAKE) benchmark SUITE=paper

# seqbench against hmmlearn, pomegranate, NLTK, KenLM, pykalman, filterpy, statsmodels and bare PyTorch;
# prints the ratios, stores them in reports/peers/peers.sqlite. The `peers` extra is installed one package
# at a time: a peer that does not install here (KenLM needs a C++ compiler) is shown as unavailable.
PEERS_STAMP := $(VENV)/.peers-installed
$(PEERS_STAMP): pyproject.toml $(STAMP)
	@for req in $$($(PY) -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['peers']))"); do \
		$(PIP) install --quiet "$$req" || echo "peer $$req did not install: its rows will read unavailable"; \
	done
	touch $(PEERS_STAMP)

benchmark-peers: $(PEERS_STAMP)
	$(PY) -m seqbench bench peers

report: $(STAMP)
	$(PY) -m seqbench report

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
