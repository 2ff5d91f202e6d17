# Kafaat: `make demo` runs the product on embedded defaults, `make test` runs the whole suite.
# Both install what they need: Debian packages, the virtualenv, Python packages, lab images.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kafaat-installed
export PYTHONDONTWRITEBYTECODE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test install system host services images interop test-labs test-compat test-openedx test-tutor \
        translations check-translations quality benchmarks dist clean

demo: install images
	$(BIN)/python -m demo.run

test: install services images interop
	$(BIN)/python -m pytest
	KAFAAT_TEST_DATABASE=mariadb $(BIN)/python -m pytest -m mariadb
	$(MAKE) --no-print-directory test-labs
	$(MAKE) --no-print-directory test-openedx
	$(MAKE) --no-print-directory test-compat
	$(MAKE) --no-print-directory test-tutor
	$(MAKE) --no-print-directory check-translations
	$(MAKE) --no-print-directory quality

install: system host $(STAMP)
	@if [ "$$(id -u)" = 0 ]; then $(BIN)/kafaat sandbox helper >/dev/null; fi

system:
	@bash scripts/system-deps.sh

host:
	@bash scripts/sandbox-host.sh

services:
	@bash scripts/services.sh

$(STAMP): setup.py requirements/base.txt requirements/test.txt requirements/openedx.txt requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools
	$(BIN)/pip install -q -c requirements/constraints.txt -e '.[test,openedx]'
	@touch $(STAMP)

# The main run is Python 3.11 + Django 5.2; this pass takes the other corner of the matrix
# (Python 3.12 + Django 4.2) over every test that needs neither sandboxes nor a browser, and the
# conformance tier with Teak's derived settings (Teak runs Django 4.2).
PY312 ?= $(shell for p in $$(ls $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null) $$(command -v python3.12); do \
                   "$$p" -c "import sys" >/dev/null 2>&1 && { echo "$$p"; break; }; done)
test-compat: install
	@if [ -z "$(PY312)" ]; then \
	  echo "test-compat: no Python 3.12 on this machine; the Python 3.12 + Django 4.2 pass did not run"; \
	else \
	  PATH="$$(dirname $(PY312)):$$PATH" $(BIN)/tox -e py312-django42 -- -m "not sandbox and not browser" -q && \
	  KAFAAT_OPENEDX_RELEASE=teak .tox/py312-django42/bin/python -m tests.openedx -q; \
	fi

# The Open edX conformance tier: Kafaat loaded as the LMS and as Studio load plugins (Ulmo's derived
# settings here; the compat pass runs Teak's), with the real openedx-events, edx-completion…
test-openedx: install
	$(BIN)/python -m tests.openedx -q

# The Tutor plugin (tutor/, its own distribution) rendered by the real Tutor of each supported Open edX
# release, each in its own virtualenv: Tutor 20 (Teak) and Tutor 21 (Ulmo). Offline once installed; no
# Docker engine or Kubernetes cluster is involved (see docs/deploy-tutor.md).
TUTOR_RELEASES := teak ulmo
test-tutor:
	@set -e; for release in $(TUTOR_RELEASES); do \
	  venv=.venv-tutor-$$release; stamp=$$venv/.installed-$$(cksum < tutor/requirements/$$release.txt | cut -d' ' -f1); \
	  if [ ! -f $$stamp ]; then \
	    rm -rf $$venv && $(PYTHON) -m venv $$venv && \
	    $$venv/bin/pip install -q -r tutor/requirements/$$release.txt -e tutor && touch $$stamp; \
	  fi; \
	  echo "test-tutor: $$release ($$($$venv/bin/python -c 'from tutor.__about__ import __version__; print("Tutor", __version__)'))"; \
	  (cd tutor && ../$$venv/bin/python -m pytest -q); \
	done

# The sandbox self-test first: its outcome is host-wide, and creation refuses while the last recorded run
# failed (a run the test suite made under load, say); a passing run here is the operator's run that lifts it.
test-labs: install images
	cd course_content && ../$(BIN)/edx-cleaner -c course.xml -i UnexpectedTag
	@log=$$(mktemp); if $(BIN)/kafaat sandbox selftest > $$log 2>&1; then tail -1 $$log; rm -f $$log; \
	 else cat $$log; rm -f $$log; exit 1; fi
	$(BIN)/kafaat lab validate course_content
	$(BIN)/kafaat lab test course_content --jobs 2

images: install
	$(BIN)/kafaat image build --all

translations: install
	$(BIN)/python scripts/translations.py extract

check-translations: install
	$(BIN)/python scripts/translations.py check

# ruff (style and lint), lint-imports (the contracts in .importlinter: other apps import only an app's
# api, data and signals; data.py only the standard library; edx-platform only in core/compat.py) and
# eslint (the blocks' JavaScript; installed from package-lock.json by npm ci).
quality: install node_modules/.kafaat-installed
	$(BIN)/ruff check xblocks tests benchmarks demo scripts tutor
	$(BIN)/ruff format --check xblocks tests benchmarks demo scripts tutor
	$(BIN)/lint-imports
	npx --no-install eslint .

node_modules/.kafaat-installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The interop tier (tests/interop/): independent implementations (Digital Bazaar's VC verifier, jose,
# ajv with the 1EdTech schema, an xAPI validator) from package-lock.json; the main pytest run collects
# its tests, which are skipped, loudly, only where node is absent.
INTEROP_STAMP := tests/interop/node_modules/.kafaat-installed
interop:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(INTEROP_STAMP); \
	 else echo "WARNING: node and npm are not installed: the interop tier (tests/interop) will be SKIPPED"; fi

$(INTEROP_STAMP): tests/interop/package.json tests/interop/package-lock.json
	cd tests/interop && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

benchmarks: install images services
	$(BIN)/python -m benchmarks all

# The wheel and the sdist in dist/ (no release is published yet: install from these or from git).
dist: install
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) .venv-tutor-* var .tox build dist *.egg-info tutor/*.egg-info node_modules tests/interop/node_modules
