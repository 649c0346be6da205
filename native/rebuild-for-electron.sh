#!/usr/bin/env bash
# Rebuilds the native modules against the Electron version in package.json, so the core runs inside Electron's
# utilityProcess (Electron's Node has its own ABI): better-sqlite3 (the store), serialport's bindings (RS-485)
# and classic-level (the broker's session store). Needs internet for Electron's headers, and python3, make and
# a C++ compiler (Visual Studio Build Tools on Windows).
#
# After this, the modules no longer load in plain Node: run `npm rebuild better-sqlite3 @serialport/bindings-cpp
# classic-level` (or `npm ci`) before `npm start` / `npm test` on the same checkout again.
set -euo pipefail
cd "$(dirname "$0")/.."
ELECTRON_VERSION="$(node -p "require('electron/package.json').version")"
echo "rebuilding native modules for Electron ${ELECTRON_VERSION}"
npx --yes @electron/rebuild --version "${ELECTRON_VERSION}" --force \
  --only better-sqlite3,@serialport/bindings-cpp,classic-level
