#!/usr/bin/env bash
# Regenerates internal/boundaries/data from the pinned npm packages.
# Run from anywhere: scripts/boundaries/generate.sh
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund >/dev/null
node generate.js ../../internal/boundaries/data
