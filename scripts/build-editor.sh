#!/usr/bin/env bash
# Rebuilds static/vendor/codemirror.bundle.js, the DAG file editor's CodeMirror 6 (with Python support),
# from the exact versions pinned in editor/package-lock.json. Needs Node.js >= 18 and the npm registry;
# CI and installs do not run this: the built bundle is committed. Run it after changing editor/src/editor.js
# or a version in editor/package.json (then `npm install` there first to update the lock file).
set -euo pipefail
cd "$(dirname "$0")/../editor"
npm ci --no-audit --no-fund --ignore-scripts   # esbuild's install script only optimises; its binary comes from @esbuild/<platform>
node build.mjs
