# Kafaat: `make demo` runs the product on embedded defaults, `make test` runs the whole suite.
# Both install what they need: Debian packages, the virtualenv, Python packages, lab images.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kafaat-installed
export PYTHONDONTWRITEBYTECODE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test install system host services images test-labs translations \
        check-translations quality benchmarks clean

demo: install images
	$(BIN)/python -m demo.run

test: install services images
	$(BIN)/python -m pytest
	KAFAAT_TEST_DATABASE=mariadb $(BIN)/python -m pytest -m mariadb
	$(MAKE) --no-print-directory test-labs
	$(MAKE) --no-print-directory check-translations

install: system host $(STAMP)

system:
	@bash scripts/system-deps.sh

host:
	@bash scripts/sandbox-host.sh

services:
	@bash scripts/services.sh

$(STAMP): setup.py requirements/base.txt requirements/test.txt requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools
	$(BIN)/pip install -q -c requirements/constraints.txt -e '.[test]'
	@touch $(STAMP)

test-labs: install images
	$(BIN)/kafaat lab validate course_content
	$(BIN)/kafaat lab test course_content --jobs 2

images: install
	$(BIN)/kafaat image build --all

translations: install
	$(BIN)/python scripts/translations.py extract

check-translations: install
	$(BIN)/python scripts/translations.py check

quality: install
	$(BIN)/ruff check xblocks tests benchmarks demo
	$(BIN)/ruff format --check xblocks tests benchmarks demo

benchmarks: install images services
	$(BIN)/python -m benchmarks all

clean:
	rm -rf $(VENV) var .tox build dist *.egg-info
