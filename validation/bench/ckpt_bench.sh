#!/usr/bin/env bash
# Checkpoint write/read bandwidth for the Sheared-LLaMA-1.3B shape (1,345,423,360 parameters, 219 tensors).
# Each rank holds the whole state (CPU data parallel), so ROLES=1 (weights, 5.4 GB) on 2 ranks needs 11 GB of
# RAM and ROLES=3 (weights + Adam m + v, 16.1 GB) needs 16 GB per rank: pick what fits.
# Write time includes the flush to stable storage (MPI_File_sync on every rank), the rename and LATEST.
# "cold" reads come after POSIX_FADV_DONTNEED on the file, "warm" ones from the page cache.
# usage: ckpt_bench.sh BUILD_DIR OUT_DIR [ROLES] [RANKS...]     (default: ROLES 1, RANKS 1 2)
set -euo pipefail
build="$1"; out="$2"; roles="${3:-1}"; shift $(( $# >= 3 ? 3 : $# )); ranks=("${@:-1 2}")
bin="$build/tests/test_ckpt"
[ -x "$bin" ] || { echo "build test_ckpt first: cmake --build $build --target test_ckpt" >&2; exit 2; }
mkdir -p "$out"
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(df -h "$out" | awk 'NR==2{print $1" "$2}')"
for np in "${ranks[@]}"; do
  for io in ompio romio321; do
    rm -rf "$out/np$np"
    echo -n "{\"io\":\"$io\"} "
    mpirun --oversubscribe --allow-run-as-root --mca btl self,vader --mca io "$io" -x OMP_NUM_THREADS=$(( $(nproc) / np > 0 ? $(nproc) / np : 1 )) \
      -np "$np" "$bin" bench "$out/np$np" "$roles"
  done
done
rm -rf "$out"
