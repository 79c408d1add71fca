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
# The store's shared test suite runs against real PostgreSQL + PostGIS too:
# start a throwaway cluster (installing Debian's postgresql-15-postgis-3 if
# missing) unless one is given, and stop it when the tests end.
if [ -z "${ATALAYA_TEST_POSTGRES_URL:-}" ]; then
  pgdir=$(mktemp -d)
  ATALAYA_TEST_POSTGRES_URL=$(./scripts/postgres.sh 2>"$pgdir.log") || { cat "$pgdir.log" >&2; exit 1; }
  export ATALAYA_TEST_POSTGRES_URL
  pgcluster=$(sed -n 's/.*cluster in \([^ ]*\) (stop.*/\1/p' "$pgdir.log")
  trap '[ -n "${pgcluster:-}" ] && ./scripts/postgres.sh stop "$pgcluster" >/dev/null 2>&1 || true' EXIT
fi
echo "== go test -race ./..."
go test -race -count=1 -timeout 20m ./...
echo "== go test without -race: accuracy tests the race detector's 20× slowdown leaves out"
# (the n-pass detection-limit test in internal/eval; the simulated surveys
# of internal/sites' evidence grid; the source-estimation
# accuracy limits in internal/sniff)
go test -count=1 ./internal/eval/ ./internal/sniff/ ./internal/sites/
echo "== go test -tags noasm (pure-Go kernels)"
go test -count=1 -tags noasm ./internal/kernel/... ./internal/detect/...
echo "== CGO_ENABLED=0 build"
CGO_ENABLED=0 go build -o /dev/null ./cmd/atalaya
