#!/usr/bin/env bash
# Installs the Go tools the checks use, pinned, into $(go env GOPATH)/bin.
set -euo pipefail
bin="$(go env GOPATH)/bin"
if ! [ -x "$bin/staticcheck" ] || ! "$bin/staticcheck" -version 2>/dev/null | grep -q '2025.1.1'; then
  echo "installing staticcheck 2025.1.1" >&2
  go install honnef.co/go/tools/cmd/staticcheck@2025.1.1
fi
