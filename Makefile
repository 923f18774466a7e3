# Two commands a newcomer needs: `make run` and `make test`. Both work from nothing.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ORT_DISABLE_TELEMETRY := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_RUNTIME_PACKAGE_CACHE_ROOT := $(CURDIR)/.cache/jsii
export TORCHINDUCTOR_CACHE_DIR := $(CURDIR)/.cache/torchinductor
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test test-fast lint typecheck bench clean deploy

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e '.[cli,jobs,infra,dev]'
	# the CDK CLI for `cdk synth` (offline) in tests/infra
	npm install --prefix . --no-save --no-audit --no-fund --no-package-lock aws-cdk@2.1148.1 asl-validator@4.0.0
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tlm serve

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy domain layers/runtime/runtime
	$(BIN)/hadolint jobs/Dockerfile jobs/Dockerfile.serve
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "unit or contract"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy domain layers/runtime/runtime

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

# Deploy to AWS (README "Deploy to AWS"): make deploy ADMIN_EMAIL=you@example.com [ALARM_EMAIL=...]
# [BUDGET_USD=50] [API_CONCURRENCY=20] [PARAMS="TlmWorkflows:Name=value ..."] [BOOTSTRAP=1]
# Fails at once without AWS credentials. (No $(STAMP) dependency: it never reinstalls.)
deploy:
	@test -x $(BIN)/python || { echo "make deploy: run make install first" >&2; exit 2; }
	$(BIN)/python -m infra.deploy

clean:
	rm -rf $(VENV) .cache .tlm cdk.out .pytest_cache
