# gitops-agent: build, test, demo and benchmarks. Every target works on a fresh machine: services and a
# Terraform-compatible binary are started or built as needed (see scripts/).
GO        ?= go
BIN       := bin
# The version `gitops-agent version` prints: the nearest tag, commits since and the commit, -dirty when the
# tree has uncommitted changes.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
# Resolved (and OpenTofu built, when no terraform or tofu is on PATH) only by the targets that run it.
TF_BINARY ?= $(shell scripts/terraform-bin)
TF        = TF_BINARY=$(TF_BINARY) CHECKPOINT_DISABLE=1
# Tools installed by `make tools` (the Lambda emulator, conftest) are found by the tests on PATH.
export PATH := $(shell $(GO) env GOPATH)/bin:$(PATH)

.PHONY: all build lambda image demo test test-go test-policies test-fmt test-ci-config test-cross chaos bench fuzz tofu tools schema fixtures clean

all: build

## build: the agent binary, bin/gitops-agent
build:
	$(GO) build -ldflags "-X gitlab.com/gitops-agent/gitops-agent/agent/internal/cli.Version=$(VERSION)" -o $(BIN)/gitops-agent ./agent

## lambda: the API function for provided.al2023 on arm64 and amd64 (bin/lambda-<arch>/bootstrap)
lambda:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(BIN)/lambda-arm64/bootstrap ./lambda
	GOOS=linux GOARCH=amd64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(BIN)/lambda-amd64/bootstrap ./lambda

## image: the service image (Dockerfile) with podman, tagged gitops-agent:$(VERSION). IMAGE_FLAGS adds build
## flags: where base images cannot be pulled, --build-arg for each line scripts/image-bases prints; where
## containers cannot start (no cgroup or rlimit set-up), --isolation=chroot.
image:
	podman build --build-arg VERSION=$(VERSION) --build-arg REVISION=$$(git rev-parse HEAD) $(IMAGE_FLAGS) -t gitops-agent:$(VERSION) .

## demo: plan examples/quickstart with a real terraform and print the merge request note
demo: build
	$(TF) $(BIN)/gitops-agent plan --repo examples/quickstart

## test: every test: Go (with throwaway PostgreSQL and Redis), Rego, and terraform fmt
test: tools test-go test-policies test-fmt test-ci-config test-cross

test-go:
	$(TF) scripts/with-services $(GO) test -race -count=1 -timeout 40m ./...

test-policies: build
	$(BIN)/gitops-agent policy test policies
	$(BIN)/gitops-agent policy test examples/quickstart/policies

test-fmt:
	env -u TF_CLI_CONFIG_FILE $(TF_BINARY) fmt -check -recursive stacks examples

## test-cross: the agent still builds for macOS, where developers run `policy check`, `policy test` and
## unsealed plans (sealed runs need Linux's namespaces)
test-cross:
	GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./agent

## test-ci-config: .gitlab-ci.yml against GitLab's CI schema, and its build job run by gitlab-ci-local
test-ci-config:
	scripts/check-gitlab-ci

## chaos: the chaos and load tests in long mode (>= 20 SIGKILL runs, a 60 s flood; docs/reliability.md);
## GITOPS_CHAOS_SEED=N replays a run
chaos:
	$(TF) GITOPS_CHAOS=long scripts/with-services $(GO) test -race -count=1 -timeout 60m -v -run . ./agent/internal/cli/e2e/chaos/
	$(TF) GITOPS_CHAOS=long scripts/with-services $(GO) test -race -count=1 -timeout 30m -v -run TestReleaseKilledAtRandomMoments ./agent/internal/cli/e2e/release/

## bench: every benchmark, with its reference measured in the same run
bench:
	$(TF) scripts/with-services $(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

## fuzz: a short run of every fuzz target
fuzz:
	$(TF) scripts/fuzz-all 30s

## tofu: print (and if needed build) the Terraform-compatible binary
tofu:
	@echo $(TF_BINARY)

## tools: test tools that come from the Go module proxy (the Lambda emulator; conftest, the policy engine's reference)
tools:
	$(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d
	$(GO) install github.com/open-policy-agent/conftest@v0.71.1

clean:
	rm -rf $(BIN)

## schema: regenerate the AWS provider schema the stacks are checked against (needs the npm registry)
schema:
	mkdir -p .cache/npm
	npm pack @cdktn/provider-aws@25.7.0 --pack-destination .cache/npm
	$(GO) run ./stacks/schema/gen -package .cache/npm/cdktn-provider-aws-25.7.0.tgz -out stacks/schema/aws-6.66.0.json.gz

## fixtures: re-plan the policy fixtures (policies/testdata) from the stacks, after any change to stacks/
fixtures:
	$(GO) test ./agent/internal/policy -run TestFixturesUpToDate -update
