#!/usr/bin/env bash
# The whole test suite: lint, then every package's tests with the race
# detector, then the kernels again in pure Go (build tag noasm) and a build
# without cgo. Installs what it needs. Run from anywhere: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! [ -d ../shared/data ]; then
  echo "test: ../shared/data is missing: the tests compare against the real data kept beside the repository" >&2
  exit 1
fi
./scripts/lint.sh
echo "== go test -race ./..."
go test -race -count=1 -timeout 20m ./...
echo "== go test -tags noasm (pure-Go kernels)"
go test -count=1 -tags noasm ./internal/kernel/... ./internal/detect/...
echo "== CGO_ENABLED=0 build"
CGO_ENABLED=0 go build -o /dev/null ./cmd/atalaya
