#!/bin/sh
# Build the 7-domain corpus from Debian packages: build_corpus.sh small|full OUT_DIR
# The .deb cache defaults to OUT_DIR/../.debcache; set SHEAR_DEB_CACHE to share one between builds.
set -eu
if [ $# -ne 2 ] || { [ "$1" != small ] && [ "$1" != full ]; }; then
  echo "usage: $0 small|full OUT_DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x /usr/bin/python3 ]; then
  echo "build_corpus.sh: /usr/bin/python3 not found (Debian's python3 is required)" >&2
  exit 1
fi
exec /usr/bin/python3 "$here/build_corpus.py" "$1" "$2"
