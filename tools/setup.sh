#!/usr/bin/env bash
# Installs what Shear needs on Debian 12 (as root, non-interactive), generates the LLaMA-2 tokenizer.json from
# npm, fetches the Llama 3 / Qwen3 ones, and builds Release into build/. Safe to re-run: each step is skipped
# when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake pkg-config git libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
      libopenblas-dev libopenblas-openmp-dev libdnnl-dev libyaml-dev libcjson-dev libpcre2-dev libutf8proc-dev nodejs npm python3-torch python3-numpy python3-h5py gnuplot-nox
      shellcheck clang libclang-rt-14-dev slurm-wlm munge)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from elsewhere (a newer nodejs without Debian's npm package): accept working binaries
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done; missing=("${tmp[@]}")
fi
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ -f inputs/tokenizer/make_tokenizer.sh ]]; then
  bash inputs/tokenizer/make_tokenizer.sh --out inputs/tokenizer/tokenizer.json
fi
# Llama 3, Llama 3.1 and Qwen3 byte-level tokenizers -> inputs/tokenizer/bytelevel/{llama3,llama3_1,qwen3}/
if [[ -f inputs/tokenizer/fetch_bytelevel.sh ]]; then
  bash inputs/tokenizer/fetch_bytelevel.sh --out inputs/tokenizer/bytelevel
fi

BUILD=${SHEAR_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release > "$BUILD.cmake.log" 2>&1 || { cat "$BUILD.cmake.log"; exit 1; }
cmake --build "$BUILD" -j"$(nproc)"
echo "setup: built $BUILD/shear"
