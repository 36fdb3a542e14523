# gitops-agent: the service image. Three stages: OpenTofu built from the Go module proxy (its module sum
# pinned), the agent built static with its version stamped, and a Debian runtime with what the sandbox
# needs (docs/security.md). No policies, repositories or examples are baked in: policies come from each
# repository and GITOPS_POLICY_DIR, mounted at run time.
#
#   podman build --build-arg VERSION=$(git describe --tags --always) -t gitops-agent .
#   (buildah and docker build it the same way; `make image` does this.)
#
# Base images are build arguments so a mirror or a pinned digest can replace them.
ARG GO_IMAGE=docker.io/library/golang:1.26-bookworm
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim

# --- OpenTofu: the Terraform-compatible binary the agent runs. Built from source through the module
# proxy, which works wherever `go` does; the module's sum must equal the pinned one (on top of the
# checksum database the go command consults), so a changed upstream archive fails the build.
FROM ${GO_IMAGE} AS tofu
ARG TOFU_VERSION=v1.10.6
ARG TOFU_SUM=h1:J57O7HrW7gakftSLFQr+/p7fniZjZ3FQLFyzv4XsSmQ=
ARG GOPROXY=https://proxy.golang.org,direct
ENV GOMODCACHE=/cache/mod GOCACHE=/cache/build GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
RUN --mount=type=cache,target=/cache set -eu; \
    info=$(go mod download -json "github.com/opentofu/opentofu@${TOFU_VERSION}"); \
    sum=$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",\{0,1\}$/\1/p'); \
    dir=$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'); \
    if [ "$sum" != "$TOFU_SUM" ]; then \
      echo "opentofu ${TOFU_VERSION}: module sum $sum, want $TOFU_SUM" >&2; exit 1; \
    fi; \
    mkdir -p /out; \
    cd "$dir" && go build -trimpath -ldflags '-s -w' -o /out/tofu ./cmd/tofu; \
    /out/tofu version

# --- The agent, static (no cgo), its version stamped where `gitops-agent version` reads it. The Go
# toolchain of this stage is also the one the runtime image keeps for `release build`.
FROM ${GO_IMAGE} AS agent
ARG GOPROXY=https://proxy.golang.org,direct
ARG VERSION=unknown
ENV GOMODCACHE=/cache/mod GOCACHE=/cache/build GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
WORKDIR /src
COPY go.mod go.sum ./
COPY agent ./agent
RUN --mount=type=cache,target=/cache set -eu; \
    go build -trimpath -ldflags "-s -w -X gitlab.com/gitops-agent/gitops-agent/agent/internal/cli.Version=${VERSION}" \
      -o /out/gitops-agent ./agent; \
    /out/gitops-agent version; \
    cp -a "$(go env GOROOT)" /out/go; \
    rm -rf /out/go/test /out/go/doc /out/go/api

# --- Runtime.
FROM ${BASE_IMAGE}
# The sandbox (GITOPS_SANDBOX): bubblewrap, slirp4netns and iproute2 for `namespaces`; util-linux's
# setpriv and nsenter for both modes; CA certificates for GitLab, AWS and the registries.
RUN set -eu; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates bubblewrap slirp4netns iproute2 util-linux; \
    rm -rf /var/lib/apt/lists/*

COPY --from=agent /out/go /usr/local/go
COPY --from=tofu /out/tofu /usr/local/bin/tofu
COPY --from=agent /out/gitops-agent /usr/local/bin/gitops-agent

# The data dir must be 0700 (the agent narrows it at start); the sandbox's dir beside it must let run
# uids through, which /var/lib does.
RUN mkdir -m 0700 /var/lib/gitops-agent
ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    GOTOOLCHAIN=local \
    GITOPS_DATA_DIR=/var/lib/gitops-agent \
    GITOPS_LISTEN=:8080
WORKDIR /var/lib/gitops-agent

# Root, on purpose: both sandbox modes give every terraform run and build a uid of its own, which only
# root can. The agent itself needs no capability beyond CHOWN, DAC_OVERRIDE, FOWNER, KILL, SETUID and
# SETGID: drop the rest where the platform allows (stacks/agent does on Fargate). See docs/operations.md.
USER 0:0
EXPOSE 8080

# Last, so that a new version or commit changes only this layer's metadata, not the layers above.
ARG BASE_IMAGE
ARG VERSION=unknown
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=https://gitlab.com/gitops-agent/gitops-agent
LABEL org.opencontainers.image.title="gitops-agent" \
      org.opencontainers.image.description="GitOps agent: plans Terraform on GitLab merge requests, promotes merges stage by stage, releases AWS Lambda functions as alarm-gated canaries" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

ENTRYPOINT ["/usr/local/bin/gitops-agent"]
CMD ["serve"]
