# One entry point for every task. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_DIR := run
CHECKOV_VENV := .venv-checkov
# make deploy's own small venv (kubectl, kubernetes-validate, PyYAML: the deploy-check extra), so deploying
# never installs torch or the rest of the project's parts.
DEPLOY_VENV := .venv-deploy

# What to export and serve. Without internet, pass a local checkpoint: make run MODEL=/path/to/checkpoint
MODEL ?= distilbert-base-uncased-finetuned-sst-2-english
NAME ?= sentiment
REPOSITORY ?= model_repository
TRITON_HTTP_PORT ?= 8000
TRITON_GRPC_PORT ?= 8001
TRITON_METRICS_PORT ?= 8002
# Which model_repository/NAME/configs/*.pbtxt the local Triton serves: cpu (ragged batches) or cpu-strict
# (one shape per batch, like the GPU backend).
TRITON_CONFIG ?= cpu
GATEWAY_PORT ?= 8080
GATEWAY_WORKERS ?= 2

# Optional: a sentence<TAB>label file of typical traffic, for the drift reference profile.
REFERENCE ?=
# Optional: a labelled sentence<TAB>label file to calibrate v2's scores and prediction sets on.
CALIBRATION ?=
# make export VERSION=2 [QUANTIZE=int8]: a new version beside the served one, which keeps serving untouched.
# The rollout verbs take VERSION too: make shadow VERSION=2 PERCENT=10.
VERSION ?=
QUANTIZE ?=
PERCENT ?=

EXPORT := $(BIN)/python -m export --model "$(MODEL)" --name $(NAME) --repository $(REPOSITORY) \
	$(if $(VERSION),--version $(VERSION)) $(if $(QUANTIZE),--quantize $(QUANTIZE)) \
	$(if $(REFERENCE),--reference-data "$(REFERENCE)") $(if $(CALIBRATION),--calibration-data "$(CALIBRATION)")
GATEWAY_URL := http://127.0.0.1:$(GATEWAY_PORT)

# The rollout state every gateway worker follows (contract/rollout.py); the verbs write it, never the gateway.
ROLLOUT_STATE := $(RUN_DIR)/rollout.json
# Optional for make gate: a labelled sentence<TAB>label set both versions score (X-Model-Version header).
ACCURACY_DATA ?=
ROLLOUT := $(BIN)/python -m rollout --gateway $(GATEWAY_URL) --triton 127.0.0.1:$(TRITON_HTTP_PORT) \
	--repository $(REPOSITORY) --name $(NAME) --state $(ROLLOUT_STATE)

# make deploy: see docs/deploy-eks.md. Its settings (OVERLAY, DRY_RUN, TLS_CERT_ARN, ...) are declared once, in
# deploy/eks/release.py; make passes what is set on its command line or in the environment straight through.

.PHONY: help setup system-deps model export triton gateway run stop test test-fast lint format clean distclean deploy lock soak loadtest bench profile eval \
	rollout-status shadow canary promote rollback gate

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Where `make setup` takes torch from. Empty: pip's own configuration (on these machines a local wheel store
# with the CPU build). CI on a GitHub runner sets https://download.pytorch.org/whl/cpu, PyTorch's CPU index;
# PyPI's torch for Linux is the CUDA build, with gigabytes of nvidia-* wheels.
TORCH_INDEX_URL ?=

setup: $(VENV)/.installed ## Create the virtualenv and install every part (pinned by constraints.txt)

# Servers the tests start for real: redis-server (shared rate limits and cache) and Chromium (playground page).
SYSTEM_PACKAGES := redis-server chromium
system-deps: ## Install the system packages the tests need (Debian/Ubuntu, as root; skipped when present)
	@if command -v redis-server >/dev/null && command -v chromium >/dev/null; then \
		echo "system packages present: $(SYSTEM_PACKAGES)"; \
	elif [ "$$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then \
		echo "missing $(SYSTEM_PACKAGES) for the tests: run 'sudo make system-deps' (Debian/Ubuntu) or install them yourself"; \
		exit 1; \
	else \
		echo "installing $(SYSTEM_PACKAGES) with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); \
	fi

# setuptools warns on every editable install that a folder named like a package may shadow it; here the
# folders are the packages, so the note only hides real output.
$(VENV)/.installed: export PYTHONWARNINGS := ignore:Editable installation
$(VENV)/.installed: pyproject.toml client/pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ required ($(PYTHON))"; exit 1; }
	@echo "setup: creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@echo "setup: installing torch (CPU build$(if $(TORCH_INDEX_URL), from $(TORCH_INDEX_URL)))"
	@# torch first, alone and without its dependencies, at the public version constraints.txt pins: the CPU
	@# build (2.13.0+cpu) satisfies ==2.13.0, so the install below keeps it and never pulls the CUDA wheels.
	@$(BIN)/pip install --quiet --no-deps -c constraints.txt $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL)) torch
	@echo "setup: installing the project and its pinned dependencies (about a minute)"
	@$(BIN)/pip install --quiet -c constraints.txt -e ".[export,gateway,local-server,deploy-check,rollout,bench,dev]" -e ./client
	@touch $@

# checkov pins packaging<24 and networkx<2.7, so it gets a venv of its own.
$(CHECKOV_VENV)/.installed: deploy/eks/requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r deploy/eks/requirements-checkov.txt
	touch $@

$(DEPLOY_VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --quiet --upgrade pip
	$(DEPLOY_VENV)/bin/pip install --quiet -c constraints.txt -e ".[deploy-check]"
	touch $@

# Serve what MODEL names: keep an export of the same checkpoint (one line says so), export any other over it.
model: setup
	@$(EXPORT) --reuse

export: setup ## Export MODEL to ONNX into the model repository (VERSION=2 beside the served one, QUANTIZE=int8, FORCE=1 to overwrite, REFERENCE=, CALIBRATION=)
	$(EXPORT) $(if $(FORCE),--force)

triton: setup model ## Start the local tritonserver (CPU; TRITON_CONFIG=cpu-strict to batch like a GPU)
	@$(BIN)/python -m localtriton --work-dir $(RUN_DIR) triton --repository $(REPOSITORY) \
		--http-port $(TRITON_HTTP_PORT) --grpc-port $(TRITON_GRPC_PORT) --metrics-port $(TRITON_METRICS_PORT) \
		--model-config-name $(TRITON_CONFIG)

# The first time, the served version (the highest exported) is pinned into the rollout state; after that the
# state is kept, so a restarted gateway serves what the last verb decided.
gateway: setup ## Start the gateway (GATEWAY_WORKERS uvicorn workers) following run/rollout.json; wait until /readyz is 200
	@$(ROLLOUT) init
	@GATEWAY_ROLLOUT_FILE=$(abspath $(ROLLOUT_STATE)) $(BIN)/python -m localtriton --work-dir $(RUN_DIR) gateway \
		--triton-url 127.0.0.1:$(TRITON_HTTP_PORT) --repository $(REPOSITORY) --model-name $(NAME) \
		--port $(GATEWAY_PORT) --workers $(GATEWAY_WORKERS)

run: triton gateway ## Export MODEL unless already exported, start Triton and the gateway, print a curl example
	@echo
	@echo "Try it:"
	@echo "  curl -s $(GATEWAY_URL)/v1/sentiment -H 'Content-Type: application/json' \\"
	@echo "       -d '{\"text\": \"I love this movie, it was wonderful.\"}'"
	@curl -s $(GATEWAY_URL)/v1/sentiment -H 'Content-Type: application/json' \
		-d '{"text": "I love this movie, it was wonderful."}'; echo
	@echo "API docs: $(GATEWAY_URL)/docs    Stop: make stop"

stop: ## Stop the gateway and Triton
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m localtriton --work-dir $(RUN_DIR) stop; fi

# Rollouts on the running local stack (docs/rollouts.md): each verb checks the version, has Triton load it,
# writes run/rollout.json and waits until every gateway worker follows it; nothing restarts.
rollout-status: setup ## The rollout state and what the gateway reports
	@$(ROLLOUT) status

shadow: setup ## Also score PERCENT % of texts with VERSION, off the response path: make shadow VERSION=2 PERCENT=10
	@$(ROLLOUT) shadow --version "$(VERSION)" --percent "$(PERCENT)"

canary: setup ## Answer PERCENT % of callers (sticky) with VERSION: make canary VERSION=2 PERCENT=20
	@$(ROLLOUT) canary --version "$(VERSION)" --percent "$(PERCENT)"

promote: setup ## The challenger becomes the champion
	@$(ROLLOUT) promote

rollback: setup ## Drop the challenger, or return to the champion before the last promotion
	@$(ROLLOUT) rollback

gate: setup ## The pair's figures and the policy's verdict (deploy/rollout-policy.toml); AUTO=1 acts on it, ACCURACY_DATA=file.tsv
	@$(ROLLOUT) gate $(if $(AUTO),--auto) $(if $(ACCURACY_DATA),--accuracy-data "$(ACCURACY_DATA)")

# VERB= picks deploy.sh's command: empty (deploy), shadow, canary, promote, rollback or gate (docs/rollouts.md).
VERB ?=
deploy: $(DEPLOY_VENV)/.installed $(CHECKOV_VENV)/.installed ## Build, push and roll out to EKS (DRY_RUN=1 to only render and print; VERB=canary VERSION=2 PERCENT=20 for a rollout)
	MODEL_REPOSITORY=$(REPOSITORY) KUBECTL=$(DEPLOY_VENV)/bin/kubectl PYTHON=$(DEPLOY_VENV)/bin/python \
	CHECKOV=$(CHECKOV_VENV)/bin/checkov bash deploy/eks/deploy.sh $(VERB)

test: setup system-deps $(CHECKOV_VENV)/.installed ## Run the test suite (starts its own Triton and gateways on free ports)
	$(BIN)/pytest

test-fast: setup ## The tests that need no Triton, gateway, torch or ../shared (under a minute)
	$(BIN)/pytest -m fast

# Load tests and benchmarks (see docs/benchmarks.md). They target 127.0.0.1 only and stop by themselves.
DATA ?= ../shared/data/sst2/dev.tsv
# Load-test texts: each is sent once before any repeats, so 67k SST-2 train sentences measure the model, not
# the answer cache; a small corpus (LOADTEST_DATA=$(DATA)) repeats and measures the cache on purpose.
LOADTEST_DATA ?= ../shared/data/sst2/train.tsv
USERS ?= 16
SPAWN_RATE ?= 4
DURATION ?= 60s
SHAPE ?= constant
BENCH_MODELS ?= tiny,shape-true
BENCH_CONCURRENCY ?= 1,8,32,64,128
BENCH_DURATION ?= 10
STAMP := $(shell date +%Y%m%d-%H%M%S)

loadtest: setup ## Locust against the running gateway (make run GATEWAY_RATE_LIMIT= first); results/locust-<time>
	mkdir -p results/locust-$(STAMP)
	$(BIN)/python -m locust -f loadtest/locustfile.py --headless --host $(GATEWAY_URL) -u $(USERS) -r $(SPAWN_RATE) \
		-t $(DURATION) --load-shape $(SHAPE) --corpus $(LOADTEST_DATA) --csv results/locust-$(STAMP)/locust \
		--html results/locust-$(STAMP)/report.html --only-summary

bench: setup ## Limit vs Triton vs full stacks (ragged, strict, mixed, v2, shadow) vs seed baseline, tiny + shape-true (+int8), ~23 min
	$(BIN)/python -m loadtest.bench --models $(BENCH_MODELS) --concurrency $(BENCH_CONCURRENCY) \
		--duration $(BENCH_DURATION) --out results/bench-$(STAMP)

profile: setup ## Where a gateway worker's CPU goes under load (py-spy; tiny model, c=64, 10 s); results/profile-<time>
	$(BIN)/python -m loadtest.profile --out results/profile-$(STAMP)

eval: setup ## Accuracy through the running gateway and agreement with PyTorch: make eval DATA=path.tsv
	$(BIN)/python -m loadtest.eval --data $(DATA) --url $(GATEWAY_URL) --model-repository $(REPOSITORY) \
		--model-name $(NAME)

soak: setup model ## Opt-in, not in CI: hold ~70% of measured capacity for 10 min (SOAK_S); figures in results/
	$(BIN)/python -m loadtest.soak --duration $(or $(SOAK_S),600) --rate-fraction 0.7 \
		--repository $(REPOSITORY) --model $(NAME) --out results

lint: setup ## ruff lint and format check, and the import rules of docs/architecture.md
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: setup ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: stop ## Remove generated models, logs and caches (keeps the virtualenv)
	rm -rf $(RUN_DIR) results build .pytest_cache .ruff_cache
	rm -rf $(REPOSITORY)/*/[0-9]* $(REPOSITORY)/*/labels.txt
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean ## Also remove the virtualenvs
	rm -rf $(VENV) $(CHECKOV_VENV) $(DEPLOY_VENV)

lock: setup ## Regenerate constraints.txt from the current virtualenv after changing pyproject.toml
	{ sed -n '1,2p' constraints.txt; $(BIN)/pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
