# piopiy.voice: every command a developer or CI needs. `make test` and `make demo`
# work from a fresh clone: they build their own virtualenv from requirements-dev.txt.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON_BOOTSTRAP ?= python3
TEST_PYTHON ?= 3.11
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
# Outside the work tree: inside it, ansible-test would list files through git and skip ignored build/.
STAGE_ROOT ?= $(or $(TMPDIR),/tmp)/piopiy-voice-$(shell printf %s "$(CURDIR)" | md5sum | cut -c1-8)
STAGE := $(STAGE_ROOT)/ansible_collections/piopiy/voice
export PATH := $(BIN):$(PATH)
export PYTHON := $(BIN)/python
export TEST_PYTHON
export ANSIBLE_NOCOLOR := 1

.PHONY: help test demo bench venv ansible-test-pip stage sanity units integration lint pytest clean collection-link shell test-matrix package-quality changelog docs guide

help:
	@echo "make test   every check: sanity, units, integration, lint, build + docs, pytest"
	@echo "make demo   run the main playbook against the local emulator"
	@echo "           (make integration TARGETS=piopiy_agent runs one target)"
	@echo "make guide  regenerate docs/docsite/rst/ (the guide on the docs site) from docs/*.md"
	@echo "make docs   the docs site (plugin pages and the guide) in build/docs/, Sphinx warnings as errors"
	@echo "make shell  a shell with the tools, the collection and a running emulator, for the docs' commands"
	@echo "make changelog    regenerate CHANGELOG.rst from changelogs/ (what the next release will publish)"
	@echo "make test-matrix  sanity + the core-dependent integration targets per ansible-core minor (MATRIX=\"2.16 2.21\" picks cells)"
	@echo "make bench  time the support_agent role against a uri baseline (~8 min; tests/output/bench/)"
	@echo "make clean  remove the virtualenv and build outputs"

# CI's order (.ci/run). lint, package-quality and docs read nothing the others write: they run side by side, each one's
# output kept together. pytest comes last, so that its summary is the last line.
test: sanity units integration
	$(MAKE) --no-print-directory -j2 --output-sync=target lint package-quality docs
	$(MAKE) --no-print-directory pytest

# The virtualenv only: nothing outside the work tree (make demo needs no more).
venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# Before it builds a virtualenv, ansible-test runs a pip bootstrap script that it downloads from a host these
# machines cannot reach, unless ~/.ansible/test/cache/get_pip_<pip>.py exists. Our stand-in goes there, under
# the pip release that the pinned ansible-core's ansible-test asks for: tests/matrix/cells.txt pins it per
# ansible-core (its last column), and tests/meta checks that pin against the installed ansible-test.
# Only the ansible-test targets (through stage) write it: it is the one file they put outside the work tree.
ANSIBLE_TEST_PIP = $(shell awk '!/^\#/ && NF && $$2 == "$(shell sed -n 's/^ansible-core==//p' requirements-dev.txt)" {print $$4}' tests/matrix/cells.txt)
PIP_STANDIN = $(HOME)/.ansible/test/cache/get_pip_$(subst .,_,$(ANSIBLE_TEST_PIP)).py

ansible-test-pip: $(PIP_STANDIN)

$(PIP_STANDIN): tests/utils/get_pip_standin.py tests/matrix/cells.txt requirements-dev.txt
	mkdir -p $(dir $@)
	cp tests/utils/get_pip_standin.py $@

# ansible-test needs the collection under ansible_collections/NS/NAME, and a symlink will not do:
# stage a copy of every tracked and untracked, not ignored file.
stage: venv ansible-test-pip
	rm -rf $(STAGE)
	mkdir -p $(STAGE)
	git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C $(STAGE)

sanity: stage
	cd $(STAGE) && ansible-test sanity --venv --python $(TEST_PYTHON) --color no

units: stage
	cd $(STAGE) && ansible-test units --venv --python $(TEST_PYTHON) --color no

# Every target, in shards side by side (tests/utils/integration.sh); TARGETS=... runs those in one ansible-test run.
integration: stage
	tests/utils/integration.sh $(STAGE) $(TARGETS)

lint: venv
	ansible-lint --profile production

pytest: venv
	python -m pytest -q -n $(shell nproc) --dist loadfile tests/emulator tests/meta tests/build tests/awx tests/playbooks tests/docs tests/perf

# The work tree is the collection: a link under ansible_collections/ lets ansible-playbook find it.
COLLECTIONS := $(CURDIR)/build/collections

collection-link:
	mkdir -p $(COLLECTIONS)/ansible_collections/piopiy
	[ "$$(readlink $(COLLECTIONS)/ansible_collections/piopiy/voice)" = "$(CURDIR)" ] || ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/piopiy/voice

demo: venv collection-link
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) tests/utils/with_emulator.sh playbooks/demo.sh

# The docs' commands work as pasted in this shell; exit it to stop its emulator.
shell: venv
	tests/utils/piopiy_env.sh

# Not part of `make test`: it takes minutes and measures the machine. It starts its own emulator.
bench: venv collection-link
	python tests/perf/bench.py --collections-path $(COLLECTIONS)

# What Galaxy's importer says of the built tarball, the docs linter, the changelog linter, and CHANGELOG.rst up to date.
DIST := $(STAGE_ROOT)/dist
package-quality: stage
	rm -rf $(DIST)
	ansible-galaxy collection build --output-path $(DIST) . >/dev/null
	cd $(DIST) && GALAXY_IMPORTER_CONFIG=$(CURDIR)/tests/utils/galaxy-importer.cfg python -m galaxy_importer.main piopiy-voice-*.tar.gz
	cd $(STAGE) && ANSIBLE_COLLECTIONS_PATH=$(STAGE_ROOT) antsibull-docs lint-collection-docs --plugin-docs .
	antsibull-changelog lint
	tests/utils/changelog.sh check $(STAGE)

# antsibull-docs + Sphinx, warnings as errors: every plugin's and the role's page, and the guide of docs/docsite/extra-docs.yml.
# docs/docsite/rst/ is generated from the guide's Markdown pages (docs/*.md) and committed: `make guide` writes it,
# `make docs` fails while it is out of date.
docs: venv
	python tests/utils/build_docs.py site $(CURDIR)/build/docs

guide: venv
	python tests/utils/build_docs.py guide

changelog: stage
	tests/utils/changelog.sh write $(STAGE)

# One virtualenv per ansible-core minor of tests/matrix/cells.txt (under tests/output/matrix/); see that file.
MATRIX ?=
test-matrix:
	$(PYTHON_BOOTSTRAP) tests/matrix/run_matrix.py $(MATRIX)

clean:
	rm -rf $(VENV) $(STAGE_ROOT) $(STAGE_ROOT)-shard* build .ansible tests/output .pytest_cache
