#!/usr/bin/env bash
# The test command: set-up (packages, tokenizer, Release build with the CUDA backend when nvcc is present),
# the whole ctest suite, then the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

status=0
echo "== ctest (Release) =="
ctest --test-dir build --output-on-failure -j2 --timeout 1500 || status=1

echo "== ctest -L unit (ASan + UBSan) =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSHEAR_SANITIZE=ON -DSHEAR_CUDA=OFF > build-asan.cmake.log 2>&1 \
  || { cat build-asan.cmake.log; exit 1; }
cmake --build build-asan -j"$(nproc)"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# unit tests without MPI: memory errors, undefined behaviour and leaks
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
  ctest --test-dir build-asan -L unit -LE mpi --output-on-failure -j2 --timeout 1500 || status=1
# unit tests that start MPI: memory errors and undefined behaviour; leak checking off, because Open MPI's
# plugins (PMIx, hwloc, BTLs) keep allocations until exit and are unloaded before LeakSanitizer can name them
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
  ctest --test-dir build-asan -L mpi -L unit --output-on-failure -j2 --timeout 1500 || status=1
exit $status
