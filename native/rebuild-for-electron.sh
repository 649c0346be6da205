#!/usr/bin/env bash
# Rebuilds the native modules (better-sqlite3, classic-level) against the Electron version in package.json,
# so the core runs inside Electron's utilityProcess. Needs internet for Electron's headers.
set -euo pipefail
cd "$(dirname "$0")/.."
npx @electron/rebuild --force --only better-sqlite3,classic-level
