#!/usr/bin/env bash
# Fetch Alpine.js for the browser tests from the npm registry (the version Agent Zero v1.7
# vendors in webui/vendor/alpine), check its integrity, keep only dist/cdn.min.js in the
# git-ignored tests/ui/.vendor/. Run by .ci/run; idempotent; needs npm (or curl) once.
set -euo pipefail
cd "$(dirname "$0")"
VERSION=3.14.9
INTEGRITY="sha512-gqSOhTEyryU9FhviNqiHBHzgjkvtukq9tevew29fTj+ofZtfsYriw4zPirHHOAy9bw8QoL3WGhyk7QqCh5AYlw=="
TARGET=.vendor/alpine-$VERSION.min.js
[ -s "$TARGET" ] && exit 0
mkdir -p .vendor
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if command -v npm >/dev/null; then
  (cd "$scratch" && npm pack --silent "alpinejs@$VERSION" >/dev/null)
else
  curl -fsSL -o "$scratch/alpinejs-$VERSION.tgz" "https://registry.npmjs.org/alpinejs/-/alpinejs-$VERSION.tgz"
fi
tarball="$scratch/alpinejs-$VERSION.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "alpinejs-$VERSION.tgz integrity mismatch: $actual" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$scratch" package/dist/cdn.min.js
cp "$scratch/package/dist/cdn.min.js" "$TARGET"
echo "Alpine.js $VERSION -> tests/ui/$TARGET"
