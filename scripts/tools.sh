#!/usr/bin/env bash
# Installs the Go tools the checks use, pinned, into $(go env GOPATH)/bin.
set -euo pipefail
bin="$(go env GOPATH)/bin"
staticcheck_version=v0.8.2 # staticcheck 2026.2.2
if ! [ -x "$bin/staticcheck" ] || ! "$bin/staticcheck" -version 2>/dev/null | grep -q "(${staticcheck_version#v})"; then
  echo "installing staticcheck $staticcheck_version" >&2
  go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
fi
