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
# internal/feed checks its exports and OGC API with GDAL (ogr2ogr: GeoJSON,
# LIBKML and OAPIF drivers), its webhook signatures with openssl and its PDF
# reports with poppler (pdftotext, pdfinfo).
if ! command -v ogr2ogr >/dev/null || ! command -v openssl >/dev/null || ! command -v pdftotext >/dev/null; then
  echo "test: installing gdal-bin, openssl and poppler-utils" >&2
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gdal-bin openssl poppler-utils >&2; then
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gdal-bin openssl poppler-utils >&2
  fi
fi
# internal/access checks its argon2id hashes against the reference
# implementation's command-line tool (Debian package argon2).
if ! command -v argon2 >/dev/null; then
  echo "test: installing argon2 (the reference argon2 tool)" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "test: argon2 is missing and installing it needs root: apt-get install argon2" >&2
    exit 1
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends argon2 >&2; then
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends argon2 >&2
  fi
fi
# internal/tak and cmd/atalaya read the PKCS #12 files they write with
# OpenSSL's command-line tool (Debian package openssl).
if ! command -v openssl >/dev/null; then
  echo "test: installing openssl (the reference PKCS #12 reader)" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "test: openssl is missing and installing it needs root: apt-get install openssl" >&2
    exit 1
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssl >&2; then
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssl >&2
  fi
fi
# internal/boundaries, internal/feed and cmd/atalaya check the municipal
# lookup against real admin-2 boundaries nobody here wrote: North Carolina's
# counties (US Census, shipped by Debian's r-cran-sf) and Luxembourg's
# cantons (GADM, shipped by r-cran-terra), converted at test time by GDAL.
if ! [ -f /usr/lib/R/site-library/sf/shape/nc.shp ] || ! [ -f /usr/lib/R/site-library/terra/ex/lux.shp ]; then
  echo "test: installing r-cran-sf and r-cran-terra (real county and canton boundaries)" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "test: r-cran-sf or r-cran-terra is missing and installing it needs root: apt-get install r-cran-sf r-cran-terra" >&2
    exit 1
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends r-cran-sf r-cran-terra >&2; then
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends r-cran-sf r-cran-terra >&2
  fi
fi
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
# The web map's tests drive a real headless Chromium (chromedp), and
# web/vendor_test.go rebuilds the vendored npm files with npm.
if ! command -v chromium >/dev/null; then
  echo "test: installing chromium (the web map's tests drive a real browser)" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "test: chromium is missing and installing it needs root: apt-get install chromium" >&2
    exit 1
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2; then
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2
  fi
fi
echo "== go test -race ./..."
go test -race -count=1 -timeout 20m ./...
echo "== go test without -race: accuracy tests the race detector's 20× slowdown leaves out"
# (the n-pass detection-limit test in internal/eval; the simulated surveys
# of internal/sites' evidence grid; the source-estimation
# accuracy limits in internal/sniff)
go test -count=1 ./internal/eval/ ./internal/sniff/ ./internal/sites/ ./internal/fusion/
echo "== go test -tags noasm (pure-Go kernels)"
go test -count=1 -tags noasm ./internal/kernel/... ./internal/detect/...
echo "== CGO_ENABLED=0 build"
CGO_ENABLED=0 go build -o /dev/null ./cmd/atalaya
