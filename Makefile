# appapi: a Kubernetes operator that serves App APIs.
# `make demo` runs the project; `make test` runs the tests.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

IMG ?= ghcr.io/appapi-dev/appapi:dev
GATEWAY_IMG ?= ghcr.io/appapi-dev/appapi-gateway:dev

LOCALBIN := $(CURDIR)/bin
ENVTEST_DIR := $(LOCALBIN)/k8s
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN := $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
# Redocly CLI, at the version of hack/redocly/package-lock.json.
REDOCLY := $(CURDIR)/hack/redocly/node_modules/.bin/redocly

# Tests find the control plane here, like setup-envtest's KUBEBUILDER_ASSETS.
export KUBEBUILDER_ASSETS := $(ENVTEST_DIR)

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: demo
demo: build envtest ## Run appapi locally: control plane, manager, gateways, examples. Ctrl-C stops it.
	go build -o $(LOCALBIN)/demo ./hack/demo
	$(LOCALBIN)/demo --root $(CURDIR)

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC from the Go markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd:allowDangerousTypes=false paths="./api/..." paths="./controllers/..." output:crd:artifacts:config=config/crd/bases

.PHONY: docs
docs: manifests ## Regenerate docs/api.md from the CRDs.
	go run ./hack/apidocs

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the DeepCopy methods.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: fmt
fmt: ## Run gofmt.
	gofmt -l -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: verify
verify: manifests generate lint-openapi ## Fail when generated files or formatting drift from the sources.
	go run ./hack/apidocs -check
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	@git diff --exit-code -- api config || { echo "generated files are out of date: run 'make manifests generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- api config)" || { echo "untracked generated files: run 'make manifests generate' and commit"; git status --porcelain -- api config; exit 1; }

.PHONY: lint-openapi
lint-openapi: $(REDOCLY) ## Lint the gateway's /openapi.json documents with Redocly CLI's recommended rules.
	REDOCLY=$(REDOCLY) go test ./gateway/openapi/ -count=1

.PHONY: test
test: envtest ## Run the unit and envtest suites.
	go test ./... -count=1

# How long `make fuzz` runs each fuzz target.
FUZZTIME ?= 30s

.PHONY: fuzz
fuzz: ## Fuzz request parsing, XML conversion, redirect validation and authentication, FUZZTIME (30s) each.
	go test -run '^$$' -fuzz '^FuzzRequestBody$$' -fuzztime $(FUZZTIME) ./gateway/pipeline
	go test -run '^$$' -fuzz '^FuzzParseQuery$$' -fuzztime $(FUZZTIME) ./gateway/pipeline
	go test -run '^$$' -fuzz '^FuzzXMLToJSON$$' -fuzztime $(FUZZTIME) ./gateway/pipeline
	go test -run '^$$' -fuzz '^FuzzValidRedirect$$' -fuzztime $(FUZZTIME) ./gateway/pipeline
	go test -run '^$$' -fuzz '^FuzzAuthenticate$$' -fuzztime $(FUZZTIME) ./gateway/auth

.PHONY: test-e2e
test-e2e: build envtest ## Run the end-to-end suite: real binaries as processes, driven by kubectl and HTTP.
	go build -o $(LOCALBIN)/demo ./hack/demo
	go test -tags e2e ./test/e2e/ -count=1 -v -timeout 20m

# `make bench`: each closed-loop run's length, the load generator's
# keep-alive connections, and the closed-loop rounds per target.
BENCH_DURATION ?= 10s
BENCH_CONNECTIONS ?= 32
BENCH_ROUNDS ?= 3

.PHONY: bench
bench: ## Floor, nginx and the gateway side by side under load; writes docs/benchmarks.md and bench/results.json (about 4 minutes).
	go build -o $(LOCALBIN)/bench ./hack/bench
	BENCH_COMMAND="make bench BENCH_DURATION=$(BENCH_DURATION) BENCH_CONNECTIONS=$(BENCH_CONNECTIONS) BENCH_ROUNDS=$(BENCH_ROUNDS)" \
		$(LOCALBIN)/bench --root $(CURDIR) --duration $(BENCH_DURATION) --connections $(BENCH_CONNECTIONS) --rounds $(BENCH_ROUNDS)

# `make bench-soak`: how long the gateway is held at half its maximum rate.
BENCH_SOAK ?= 5m

.PHONY: bench-soak
bench-soak: ## Hold the gateway's token endpoint at half its maximum rate for BENCH_SOAK (5m): errors, goroutines, memory.
	go build -o $(LOCALBIN)/bench ./hack/bench
	BENCH_COMMAND="make bench-soak BENCH_SOAK=$(BENCH_SOAK) BENCH_DURATION=$(BENCH_DURATION) BENCH_CONNECTIONS=$(BENCH_CONNECTIONS)" \
		$(LOCALBIN)/bench --root $(CURDIR) --soak $(BENCH_SOAK) --duration $(BENCH_DURATION) --connections $(BENCH_CONNECTIONS)

# `make bench-scale`: the Environment sizes of the scale table.
BENCH_SCALE ?= 10,1000,10000

.PHONY: bench-scale
bench-scale: envtest ## The scale table: N AppAPIs in one Environment in cluster mode (BENCH_SCALE=10,1000,10000): apply → served, memory, new AppAPI → 200, token delete → 401.
	go build -o $(LOCALBIN)/bench ./hack/bench
	BENCH_COMMAND="make bench-scale BENCH_SCALE=$(BENCH_SCALE)" $(LOCALBIN)/bench --root $(CURDIR) --scale $(BENCH_SCALE)

.PHONY: bench-go
bench-go: envtest ## Run the Go benchmarks of every package (go test -bench).
	go test ./... -run '^$$' -bench . -benchmem

##@ Build

.PHONY: build
build: ## Build the binaries of cmd/ into bin/.
	go build -o $(LOCALBIN)/ ./cmd/...

.PHONY: envtest
envtest: ## Build kube-apiserver, etcd and kubectl into bin/k8s (cached per machine).
	@bash hack/envtest/build.sh $(ENVTEST_DIR)

.PHONY: docker-build
docker-build: ## Build the manager and gateway images (needs a Docker engine).
	docker build --build-arg BINARY=manager -t $(IMG) .
	docker build --build-arg BINARY=gateway -t $(GATEWAY_IMG) .

##@ Deployment

KUBECTL ?= kubectl

# deploy-manifests is config/default with the images of IMG and GATEWAY_IMG,
# built by kubectl's own kustomize: no file in the checkout changes.
deploy-manifests = $(KUBECTL) kustomize config/default | sed \
	-e 's|ghcr.io/appapi-dev/appapi:dev|$(IMG)|' \
	-e 's|--gateway-image=ghcr.io/appapi-dev/appapi-gateway:dev|--gateway-image=$(GATEWAY_IMG)|'

.PHONY: install
install: manifests ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUBECTL) kustomize config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: ## Remove the CRDs.
	$(KUBECTL) kustomize config/crd | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests ## Install the CRDs and the manager (IMG, GATEWAY_IMG set the images).
	$(deploy-manifests) | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the manager and the CRDs.
	$(deploy-manifests) | $(KUBECTL) delete --ignore-not-found -f -

##@ Tools

$(REDOCLY): hack/redocly/package.json hack/redocly/package-lock.json
	@command -v npm >/dev/null || { echo "make lint-openapi needs npm, with Node.js 20.19+ or 22.12+, to install Redocly CLI (hack/redocly)"; exit 1; }
	npm ci --prefix hack/redocly --engine-strict --no-audit --no-fund
	@touch $@

$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN)/.tmp go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/.tmp/controller-gen $@
