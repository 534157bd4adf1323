# Two commands for a newcomer: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DATA := data/mnist.npz
APT_GET := $(if $(filter 0,$(shell id -u)),,sudo) apt-get

.PHONY: setup data fonts browser nginx run serve test test-fast lint bench

setup: $(INSTALLED)

$(INSTALLED): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# MNIST, fetched once (offline copy included) and cached in data/ (git-ignored), and the
# drawn-digit test set: simulated writers tracing held-out fonts (scripts/build_drawn_set.py;
# needs the fonts below).
DRAWN := data/drawn_digits.npz
data: $(DATA) $(DRAWN)

$(DATA): | $(INSTALLED)
	$(PY) -m mnist_core.data

# Rebuilt when the code that makes it changes (the writers, how strokes are drawn, the format).
$(DRAWN): scripts/build_drawn_set.py scripts/writers.py scripts/drawn_synthesis.py \
		mnist_core/strokes.py mnist_core/drawn.py | $(DATA) fonts
	$(PY) scripts/build_drawn_set.py

# From Debian: the handwriting fonts the drawn-digit sets are written with (never used in
# training), and Chromium for the browser tests (Playwright drives it; never `playwright install`).
FONTS := fonts-bwht fonts-comic-neue fonts-dancingscript fonts-kaushanscript fonts-breip \
	fonts-dkg-handwriting fonts-humor-sans fonts-kristi fonts-rufscript fonts-ecolier-court \
	fonts-klee fonts-seto fonts-kiloji fonts-havana fonts-lobster fonts-leckerli-one \
	fonts-nanum-extra fonts-fantasque-sans fonts-navilu fonts-aoyagi-soseki
define apt_install
	@dpkg -s $(1) >/dev/null 2>&1 || { $(APT_GET) update -qq && $(APT_GET) install -y -qq $(1); }
endef
fonts:
	$(call apt_install,$(FONTS))

browser:
	$(call apt_install,chromium)

# The proxy in front of several server processes (`make serve`); Debian's package.
nginx:
	$(call apt_install,nginx)

run: setup data
	$(PY) -m streamlit run streamlit_app.py

# A classroom: REPLICAS Streamlit processes behind nginx at http://localhost:PORT.
REPLICAS ?= 2
PORT ?= 8501
serve: setup data nginx
	$(PY) scripts/serve.py --replicas $(REPLICAS) --port $(PORT)

test: setup data browser nginx
	$(PY) -m pytest

# Everything but the real-browser tests.
test-fast: setup data
	$(PY) -m pytest -m "not e2e"

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: setup data browser
	for script in bench/*.py; do $(PY) $$script || exit 1; done
