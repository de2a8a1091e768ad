#!/usr/bin/env bash
# What verifying a token store costs at open (issue 19): tests/verify_cost run with 1 and 2 OpenMP threads on a
# store of MB megabytes, its four rates written as one table to validation/results/verify_cost.md (tied to the
# README's table by a results marker). Files just written, so reads come from the page cache.
# usage: verify_cost.sh BUILD_DIR [MB] [TMPDIR]      (default: 256 MB in /tmp)
set -euo pipefail
build="$1"; mb="${2:-256}"; tmp="${3:-/tmp}"
bin="$build/tests/verify_cost"
[ -x "$bin" ] || { echo "build verify_cost first: cmake --build $build --target verify_cost" >&2; exit 2; }
out="$(cd "$(dirname "$0")/../results" && pwd)/verify_cost.md"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
declare -A rate
for th in 1 2; do
  log=$(OMP_NUM_THREADS=$th "$bin" "$mb" "$tmp")
  echo "$log"
  head=$(echo "$log" | head -1); head=${head%, * hash threads}
  # rate[ROW,THREADS] = the GB/s column of the row whose label starts with ROW
  for row in write hash read store_open; do
    rate[$row,$th]=$(echo "$log" | awk -v r="$row" '$1 == r || $1 == r":" || $1 == r"," {print $(NF-1)}')
  done
done
{
  echo "# verify_cost"
  echo
  echo "\`bash validation/bench/verify_cost.sh $build $mb\` on $(nproc) cores, $(date -u +%F)."
  echo "${head#verify_cost: }; the thread count (OMP_NUM_THREADS) is the column's."
  echo
  echo "| what | 1 thread | 2 threads |"
  echo "|---|---|---|"
  echo "| write (prep's writer, checksums included) | ${rate[write,1]} GB/s | ${rate[write,2]} GB/s |"
  echo "| hash in memory (\`ckpt_sum_bytes\`) | ${rate[hash,1]} GB/s | ${rate[hash,2]} GB/s |"
  echo "| read every split, no verification (\`SHEAR_NO_VERIFY=1\`) | ${rate[read,1]} GB/s | ${rate[read,2]} GB/s |"
  echo "| \`store_open\`: read + checksum + id scan | ${rate[store_open,1]} GB/s | ${rate[store_open,2]} GB/s |"
} >"$out"
echo "wrote $out"
