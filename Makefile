# edgewise developer commands. `make demo` and `make test` set everything up themselves.
# the interpreter .venv is made with: the distribution's Python 3.11+ where there is one
# (built with PGO and LTO: ~20% faster than a pyenv default build), else python3 (tools/python.sh)
PYTHON ?= $(shell tools/python.sh)
# the interpreter's real path: .venv is made again when it changes
PYTHON_REAL := $(shell readlink -f "$$(command -v $(PYTHON))")
VENV   ?= .venv
BIN    := $(VENV)/bin
# reinstalled when the project's metadata, the compiled extension's sources or the
# interpreter change
STAMP  := $(VENV)/.installed-$(shell (cat pyproject.toml rust/fastyaml/Cargo.toml rust/fastyaml/Cargo.lock \
                                      rust/fastyaml/src/*.rs; echo $(PYTHON_REAL)) | cksum | cut -d' ' -f1)
# Cargo's build of the compiled YAML reader and walker (rust/fastyaml), shared by every checkout
export CARGO_TARGET_DIR ?= $(HOME)/.cache/edgewise/cargo-target

.PHONY: demo test lint typecheck unit bench clean lab netns-tools scanners eksctl-validate

# checkov (the security scanner the tests run on generated plans) lives in its own virtual
# environment: installed into ours it would downgrade boto3/botocore and packaging
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV    := .tools/checkov
CHECKOV_STAMP   := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

$(STAMP): pyproject.toml
	@if [ -x $(BIN)/python ] && [ "$$($(BIN)/python -c 'import os, sys; print(os.path.realpath(sys._base_executable))')" \
	     != "$(PYTHON_REAL)" ]; then echo "$(VENV): made with another Python: made again"; rm -rf $(VENV); fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $@

## demo: plan the Local Zones HashiCups example into out/local-zones-hashicups, then check it
demo: $(STAMP)
	$(BIN)/edgewise zones --region us-west-2 --type local
	$(BIN)/edgewise plan examples/local-zones-hashicups -o out/local-zones-hashicups
	$(BIN)/edgewise check out/local-zones-hashicups --topology examples/local-zones-hashicups

## test: lint, type-check and run the whole test suite (builds the lab first)
test: $(STAMP) lab scanners eksctl-validate lint typecheck unit

$(CHECKOV_STAMP):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	@rm -f $(CHECKOV_VENV)/.installed-*; touch $@

## scanners: checkov in .tools/checkov (pinned)
scanners: $(CHECKOV_STAMP)

## lab: build the Kubernetes lab programs into .tools/bin and put the add-on Helm charts in
## .tools/charts (cached; the first build takes ~10 minutes)
lab:
	tools/lab-build.sh
	tools/charts-build.sh

## netns-tools: ip and nft for the data-plane tests (installed with apt-get as root; else those tests skip)
netns-tools:
	@if command -v nft >/dev/null && command -v ip >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables iproute2) >/dev/null \
	    || echo "netns-tools: could not install nftables/iproute2; the data-plane tests will skip"; \
	else echo "netns-tools: nft or ip missing and no root apt-get; the data-plane tests will skip"; fi

## eksctl-validate: build eksctl v0.215.0's own config validation into .tools/bin (cached)
eksctl-validate:
	tools/gobuild.sh eksctl eksctl-validate edgewise.dev/eksctlvalidate >/dev/null

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) lab netns-tools scanners eksctl-validate
	tools/istio-build.sh
	$(BIN)/pytest -n 2 --dist loadgroup -p no:cacheprovider

## bench: plan/check vs helm template and kubectl kustomize at 10x10, 50x20, 200x40 (several minutes)
bench: $(STAMP)
	tools/helm-build.sh >/dev/null
	$(BIN)/python -m benchmarks.run --rounds 5 --work bench-out --json bench-out/results.json
	$(BIN)/python -m benchmarks.bench_simulate

clean:
	rm -rf $(VENV) out bench-out .mypy_cache .ruff_cache .pytest_cache .hypothesis
