#!/usr/bin/env bash
# gofmt, go vet and staticcheck over the whole module, with and without asm.
set -euo pipefail
cd "$(dirname "$0")/.."
"$(dirname "$0")/tools.sh"
bin="$(go env GOPATH)/bin"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go vet -tags noasm ./...
"$bin/staticcheck" ./...
"$bin/staticcheck" -tags noasm ./...
echo "lint: ok"
