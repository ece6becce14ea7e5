#!/bin/sh
# npm test, measured: c8 collects V8's coverage of every Node process the
# tests start (the daemons and commands included, through NODE_V8_COVERAGE,
# which each child inherits), then prints it per file of dist/src/ and in
# total, and fails when the figures fall below the floors in .c8rc.json.
# The plog bundle (dist/src/cli/plog.js, esbuild's copy of modules that
# dist/src/ also has) is left out: it would count those modules twice.
# Node 20's own --experimental-test-coverage has neither a floor nor a way
# to leave the tests out of the figure.
set -eu
cd "$(dirname "$0")/.."
# The tests run daemons and commands as nobody (setpriv): they must be able
# to write their profile too, or Node says EACCES on their stderr at exit.
# A sticky directory of our own, removed afterwards.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 1777 "$tmp"
npx c8 --temp-directory "$tmp" --clean=false npm test
