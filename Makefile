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

.PHONY: install run test test-fast lint typecheck bench clean deploy web chromium

# Independent set-up steps (the venv, the npm tools, the web packages, Chromium) and the static
# checks run side by side: a fresh `make test` waits for the slowest, not for their sum.
MAKEFLAGS += -j4

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e '.[cli,jobs,infra,dev]'
	touch $(STAMP)

# the CDK CLI for `cdk synth` (offline) and the ASL validator, for tests/infra
NODE_TOOLS := node_modules/.tools-installed
$(NODE_TOOLS):
	npm install --prefix . --no-save --no-audit --no-fund --no-package-lock aws-cdk@2.1148.1 asl-validator@4.0.0
	touch $(NODE_TOOLS)

# The browser UI (web/): packages from the npm registry (exact versions, web/package-lock.json),
# client types generated from the API's OpenAPI document, bundle in web/dist (not committed).
# Rebuilt when web/ or the API's code changes; `tlm serve` serves it at /.
WEB_STAMP := web/dist/.built
WEB_DEPS := web/node_modules/.package-lock.json
WEB_SRC := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json
API_SRC := $(shell find functions domain -name '*.py' 2>/dev/null)

$(WEB_DEPS): web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund --loglevel=error

$(WEB_STAMP): $(STAMP) $(WEB_DEPS) $(WEB_SRC) $(API_SRC)
	$(BIN)/python -m functions.api.openapi_dump web/openapi.json
	npm run build --prefix web --silent -- --logLevel warn
	touch $(WEB_STAMP)

web: $(WEB_STAMP)

# Debian's Chromium (+ CJK fonts) for the browser tests; installed only when missing
chromium:
	@dpkg -s chromium fonts-noto-cjk >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	  echo "installing chromium and fonts-noto-cjk (apt-get)"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    chromium fonts-noto-cjk >/dev/null; }

install: $(STAMP) $(NODE_TOOLS) $(WEB_STAMP)

run: $(STAMP) $(WEB_STAMP)
	$(BIN)/tlm serve

test: $(STAMP) $(NODE_TOOLS) $(WEB_STAMP) chromium lint
	TLM_BROWSER_REQUIRED=1 $(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "unit or contract"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy domain layers/runtime/runtime
	$(BIN)/hadolint jobs/Dockerfile jobs/Dockerfile.serve

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

# Deploy to AWS (README "Deploy to AWS"): make deploy ADMIN_EMAIL=you@example.com [ALARM_EMAIL=...]
# [BUDGET_USD=50] [API_CONCURRENCY=20] [PARAMS="TlmWorkflows:Name=value ..."] [BOOTSTRAP=1]
# Fails at once without AWS credentials. (No $(STAMP) dependency: it never reinstalls.)
deploy:
	@test -x $(BIN)/python || { echo "make deploy: run make install first" >&2; exit 2; }
	$(BIN)/python -m infra.deploy

clean:
	rm -rf $(VENV) .cache .tlm cdk.out .pytest_cache web/dist web/node_modules web/openapi.json web/src/api/schema.d.ts
