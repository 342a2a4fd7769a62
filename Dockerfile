# One Dockerfile builds both images:
#   docker build --build-arg BINARY=manager -t ghcr.io/appapi-dev/appapi:dev .
#   docker build --build-arg BINARY=gateway -t ghcr.io/appapi-dev/appapi-gateway:dev .
# Whichever binary is built, it lands at /app and is the ENTRYPOINT: the
# manager's Deployment (config/manager/manager.yaml) runs command /app, and
# the gateway Deployments the manager creates set only args.
ARG BINARY=manager

FROM golang:1.26 AS builder
ARG BINARY
ARG TARGETOS
ARG TARGETARCH
WORKDIR /workspace

# Download the modules in their own layer, cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download

COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY gateway/ gateway/
COPY internal/ internal/

# GOOS/GOARCH follow the target platform under buildx and default to the
# builder's own without it.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/app ./cmd/${BINARY}

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /out/app /app
USER 65532:65532
ENTRYPOINT ["/app"]
