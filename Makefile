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

export BASE_IMAGE IMAGE EMULATOR_IMAGE

.PHONY: help venv docker base-image images lint test test-unit demo clean

help:
	@echo "make demo   build the image, run the emulator, a worker and the client demo"
	@echo "make test   lint, then the whole test suite (unit, process, image)"
	@echo "make lint   ruff, shellcheck, hadolint"

$(BIN)/.installed: requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements/dev.txt
	touch $@

venv: $(BIN)/.installed

docker:
	scripts/ensure-docker.sh

base-image: docker
	@if [ "$(BASE_IMAGE)" = "$(LOCAL_BASE)" ]; then scripts/build-base-image.sh $(LOCAL_BASE); fi

images: base-image
	docker build -q --build-arg BASE_IMAGE=$(BASE_IMAGE) -t $(IMAGE) .
	docker build -q --build-arg BASE_IMAGE=$(BASE_IMAGE) -f emulator/Dockerfile -t $(EMULATOR_IMAGE) .

lint: venv
	$(BIN)/ruff check .
	$(BIN)/shellcheck image/entrypoint.sh image/run-consumer scripts/*.sh consumer-example/*.sh .ci/run
	$(BIN)/hadolint Dockerfile emulator/Dockerfile

test-unit: venv
	$(BIN)/pytest tests/unit tests/emulator $(PYTEST_ARGS)

test: venv lint images
	$(BIN)/pytest $(PYTEST_ARGS)

demo: venv images
	scripts/demo.sh

clean:
	rm -rf $(VENV)
