#!/usr/bin/env bash
# The test command: set-up (packages, tokenizer, Release build with the CUDA backend when nvcc is present),
# the whole ctest suite, the CUDA backend's tests on the CPU emulation of CUDA (build-emu), then the unit tests
# again under AddressSanitizer + UndefinedBehaviorSanitizer (in an emulation build, so the CUDA ones too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

status=0
echo "== ctest (Release) =="
ctest --test-dir build --output-on-failure -j2 --timeout 1500 || status=1

# The CUDA backend on the CPU: kernels/cuda compiled as C++ against the emulation of CUDA, cuBLAS, cub and NCCL
# (tests/cuda_emu); its shear, test_cuda_ops and test_nccl run every GPU test and the end-to-end ones (label
# cuda-emu), under two thread orders where a race would show
echo "== ctest -L cuda-emu (the CUDA backend, emulated on the CPU) =="
cmake -S . -B build-emu -DCMAKE_BUILD_TYPE=Release -DSHEAR_CUDA_EMU=ON > build-emu.cmake.log 2>&1 \
  || { cat build-emu.cmake.log; exit 1; }
cmake --build build-emu -j"$(nproc)"
ctest --test-dir build-emu -L cuda-emu --output-on-failure -j2 --timeout 1500 || status=1

echo "== ctest -L unit (ASan + UBSan) =="
# an emulation build: the unit tests include the CUDA emulation's own and emu_cuda_ops_short (every CUDA op and the
# whole model, emulated) under ASan
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSHEAR_SANITIZE=ON -DSHEAR_CUDA_EMU=ON > build-asan.cmake.log 2>&1 \
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
