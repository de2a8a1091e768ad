#!/bin/bash
# The one script a GPU session runs (through the device tool, on a machine with nvcc, CMake, gcc and an NVIDIA
# GPU, but no Open MPI / HDF5 / libyaml / cJSON / OpenBLAS development files and no network):
#   1. unpacks the .deb files of validation/gpu/debs (made here by fetch_debs.sh, carried along) into a private
#      root with dpkg -x, never into / (they would replace the machine's own libraries);
#   2. configures and builds Shear with the CUDA backend (sm_80 and sm_90) against that root;
#   3. runs the gpu-labelled ctests (tests/gpu/test_cuda_ops: CUDA vs CPU backend, op by op and whole model);
#   4. runs the same test under compute-sanitizer memcheck and racecheck;
#   5. (stage bench, only when named) validation/bench/gpu_bench.sh: Shear vs PyTorch training throughput at the
#      1.3B / 2.7B / masked-7B shapes, seq 4096; writes gpu_bench.md, gpu_bench.json, gpu_bench.log to $OUT.
# Logs go to $OUT (the device tool brings that folder back; at most 8 files): env.txt, configure.log, build.log,
# ctest.log, memcheck.log, racecheck.log, summary.txt. The last lines printed are the summary.
#
# usage (from the repository root): bash validation/gpu/run_gpu_checks.sh [STAGE...]
#   STAGE: build, test, memcheck, racecheck (default: all four, in that order), build-only (configure and build,
#   then stop: for trying the script's set-up on a machine without a GPU), bench (not in the default: the
#   three cases take several minutes on top of the build, and one device command may run 10). A warm machine keeps
#   the root and the build folder, so a second call can run only the sanitizers, or only the bench:
#     run(command="bash validation/gpu/run_gpu_checks.sh bench", carry=["validation/gpu/debs"])
#   gpu_bench.sh's variables pass through (CASES="c1.3b" to run one case per call, STEPS, MICRO_BATCH,
#   PRUNE_LAYERS="16 12 8", TORCH=0); with build and test in the same call $OUT holds 8 files, the device tool's limit.
# The default stages reach their verdict within GPU_CHECK_BUDGET seconds (480): one architecture (the GPU's
# compute capability, CUDA_ARCHS overrides), all cores, NCCL from the toolkit or else the Python wheel
# (nvidia-nccl-cu13, lib/libnccl.so.2 without libnccl.so; SHEAR_NCCL_ROOT overrides), the sanitizers cut to
# what the budget leaves. The machine's facts are printed first (env.txt).
# environment: OUT (default ./build-gpu-out), SHEAR_GPU_ROOT (default /tmp/shear-debroot), SHEAR_GPU_BUILD (default
#   build-gpu), SANITIZER_TIMEOUT seconds per sanitizer run (default 240), JOBS (default nproc).
# device tool call: run(command="bash validation/gpu/run_gpu_checks.sh", carry=["validation/gpu/debs"])
set -u
cd "$(dirname "$0")/../.." || exit 1
SRC=$PWD
OUT=${OUT:-$SRC/build-gpu-out} # build*/ is ignored by git
R=${SHEAR_GPU_ROOT:-/tmp/shear-debroot}
BUILD=${SHEAR_GPU_BUILD:-build-gpu}
SAN_TIMEOUT=${SANITIZER_TIMEOUT:-240}
JOBS=${JOBS:-$(nproc)}
DEBS=$SRC/validation/gpu/debs
stages=${*:-build test memcheck racecheck}
mkdir -p "$OUT"
summary=$OUT/summary.txt
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }

T_START=$SECONDS
BUDGET=${GPU_CHECK_BUDGET:-480} # seconds from start to verdict; the sanitizers get what the build and tests leave
[ -d /usr/local/cuda/bin ] && export PATH=/usr/local/cuda/bin:$PATH

# NCCL: the toolkit's when it has one, else the Python wheel's (nvidia-nccl-cu13: lib/libnccl.so.2 and
# include/nccl.h, no unversioned libnccl.so; CMakeLists.txt takes it through NCCL_ROOT). SHEAR_NCCL_ROOT overrides.
find_nccl_root() {
    if [ -n "${SHEAR_NCCL_ROOT:-}" ]; then echo "$SHEAR_NCCL_ROOT"; return; fi
    if ls /usr/local/cuda/lib64/libnccl.so* >/dev/null 2>&1 && [ -f /usr/local/cuda/include/nccl.h ]; then return; fi
    python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2>/dev/null
}
NCCL_ROOT_DIR=$(find_nccl_root)
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/compute-sanitizer/compute-sanitizer)
# the one architecture present (a build for every listed one costs minutes); both A100 and H100 without a GPU
CAP=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ')
ARCHS=${CUDA_ARCHS:-${CAP:-80;90}}

# ---- the machine, first: the facts a failure is read against ----
{
    echo "date: $(date -u)"
    grep PRETTY_NAME /etc/os-release 2>/dev/null
    uname -r
    echo "glibc: $(ldd --version 2>&1 | head -1)"
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1
    command -v nvcc && nvcc --version | tail -2
    if [ -n "$NCCL_ROOT_DIR" ]; then
        echo "nccl: $NCCL_ROOT_DIR ($(find "$NCCL_ROOT_DIR/lib" -maxdepth 1 -name 'libnccl*' -printf '%f ' 2>&1))"
        grep -hE "^#define NCCL_(MAJOR|MINOR|PATCH) " "$NCCL_ROOT_DIR/include/nccl.h" 2>&1 | awk '{printf "%s ", $3} END {print ""}'
    else
        echo "nccl: the toolkit's ($(find /usr/local/cuda/lib64/ -maxdepth 1 -name 'libnccl.so*' -printf '%f ' 2>&1))"
    fi
    cudnn_h=""
    for h in /usr/include/cudnn_version.h /usr/local/cuda/include/cudnn_version.h; do
        [ -f "$h" ] && cudnn_h=$h && break
    done
    if [ -n "$cudnn_h" ]; then
        echo "cudnn: $(grep -E '^#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) ' "$cudnn_h" | awk '{printf "%s.", $3}' | sed 's/\.$//')"
    else
        echo "cudnn: $(python3 -c 'import torch; print(torch.backends.cudnn.version())' 2>&1 | tail -1) (torch)"
    fi
    echo "compute-sanitizer: $("$SAN" --version 2>&1 | tail -1)"
    cmake --version | head -1
    gcc --version | head -1
    echo "nproc: $(nproc); CUDA architectures built: $ARCHS"
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
if ! command -v nvcc >/dev/null; then
    note "FAIL: nvcc not found (looked on PATH and in /usr/local/cuda/bin): not a CUDA machine"
    exit 1
fi
left() { echo $((BUDGET - (SECONDS - T_START))); }

# ---- the private root of Debian packages ----
LIBDIRS=$R/usr/lib/x86_64-linux-gnu:$R/lib/x86_64-linux-gnu:$R/usr/lib/x86_64-linux-gnu/openmpi/lib
LIBDIRS=$LIBDIRS:$R/usr/lib/x86_64-linux-gnu/hdf5/openmpi:$R/usr/lib/x86_64-linux-gnu/openblas-openmp
if [ ! -f "$R/.unpacked" ]; then
    if ! ls "$DEBS"/*.deb >/dev/null 2>&1; then
        note "FAIL: no .deb files in $DEBS: run 'sh validation/gpu/fetch_debs.sh' on the build machine and carry"
        note "      validation/gpu/debs with the device call (carry=[\"validation/gpu/debs\"])"
        exit 1
    fi
    rm -rf "$R"
    mkdir -p "$R"
    for f in "$DEBS"/*.deb; do
        dpkg -x "$f" "$R" || { note "FAIL: dpkg -x $f"; exit 1; }
    done
    # Debian's mpirun and pkg-config are alternatives links that dpkg -x does not create: small wrappers instead,
    # which also give the programs their libraries (only them: the machine's own tools keep the system ones)
    mkdir -p "$R/shim"
    cat >"$R/shim/pkg-config" <<EOF
#!/bin/sh
LD_LIBRARY_PATH=$LIBDIRS exec $R/usr/bin/pkgconf "\$@"
EOF
    cat >"$R/shim/mpirun" <<EOF
#!/bin/sh
OPAL_PREFIX=$R/usr LD_LIBRARY_PATH=$LIBDIRS exec $R/usr/bin/orterun "\$@"
EOF
    chmod +x "$R/shim/pkg-config" "$R/shim/mpirun"
    touch "$R/.unpacked"
fi
export PATH=$R/shim:$PATH
# pkg-config reads only the root's .pc files and prefixes their absolute -I/-L paths with the root
export PKG_CONFIG_LIBDIR=$R/usr/lib/x86_64-linux-gnu/pkgconfig:$R/usr/lib/x86_64-linux-gnu/openmpi/lib/pkgconfig:$R/usr/share/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$R
unset PKG_CONFIG_PATH

rc_build=skipped rc_test=skipped rc_mem=skipped rc_race=skipped rc_bench=skipped
TEST=$BUILD/tests/test_cuda_ops

# ---- configure and build ----
if [[ " $stages " == *" build "* || " $stages " == *" build-only "* ]]; then
    # Makefiles, not Ninja (tests/hf.cmake's fuzz target has two rules under Ninja).
    # MPI from the root without its compiler wrapper (whose paths are compiled in); the OpenMP OpenBLAS by the
    # cache variables CMakeLists.txt looks for; -rpath-link lets the linker find the libraries' own dependencies
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSHEAR_CUDA=ON \
        -DCMAKE_CUDA_COMPILER="$(command -v nvcc)" -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" \
        ${NCCL_ROOT_DIR:+-DNCCL_ROOT="$NCCL_ROOT_DIR"} \
        -DPKG_CONFIG_EXECUTABLE="$R/shim/pkg-config" \
        -DMPI_SKIP_COMPILER_WRAPPER=ON -DMPI_SKIP_GUESSING=ON -DMPI_ASSUME_NO_BUILTIN_MPI=ON \
        -DMPI_C_LIB_NAMES=mpi -DMPI_mpi_LIBRARY="$R/usr/lib/x86_64-linux-gnu/openmpi/lib/libmpi.so" \
        -DMPI_C_HEADER_DIR="$R/usr/lib/x86_64-linux-gnu/openmpi/include" \
        -DMPI_C_ADDITIONAL_INCLUDE_DIRS="$R/usr/lib/x86_64-linux-gnu/openmpi/include/openmpi" \
        -DMPIEXEC_EXECUTABLE="$R/shim/mpirun" \
        -DSHEAR_BLAS_LIB="$R/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so" \
        -DSHEAR_BLAS_INC="$R/usr/include/x86_64-linux-gnu/openblas-openmp" \
        -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$LIBDIRS" \
        -DCMAKE_SHARED_LINKER_FLAGS="-Wl,-rpath-link,$LIBDIRS" >"$OUT/configure.log" 2>&1
    rc_conf=$?
    tail -5 "$OUT/configure.log"
    if [ $rc_conf -ne 0 ]; then
        note "FAIL: configure (rc $rc_conf), see configure.log:"
        grep -B2 -A8 "CMake Error" "$OUT/configure.log" | head -40 | tee -a "$summary"
        exit 1
    fi
    # the whole project, so a CUDA build error anywhere shows; the parity test alone if something else breaks
    cmake --build "$BUILD" -j "$JOBS" >"$OUT/build.log" 2>&1
    rc_build=$?
    if [ $rc_build -ne 0 ]; then
        grep -E "error|Error" "$OUT/build.log" | head -30
        cmake --build "$BUILD" -j "$JOBS" --target test_cuda_ops >>"$OUT/build.log" 2>&1 || true
    fi
    note "build: rc $rc_build (the whole project; build.log)"
fi
if [ ! -x "$TEST" ]; then
    note "FAIL: $TEST was not built; see build.log"
    exit 1
fi

export LD_LIBRARY_PATH=$LIBDIRS${NCCL_ROOT_DIR:+:$NCCL_ROOT_DIR/lib}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
[[ " $stages " == *" build-only "* ]] && { note "build-only: configured and built in $((SECONDS - T_START)) s"; exit 0; }

# ---- the gpu-labelled tests ----
if [[ " $stages " == *" test "* ]]; then
    ctest --test-dir "$BUILD" -L gpu -V --timeout 600 >"$OUT/ctest.log" 2>&1
    rc_test=$?
    grep -E "^[0-9]+: (FAIL|SKIP)|passed, .* failed|tests passed|Skipped|Not Run" "$OUT/ctest.log" | head -60
    # a skip on a GPU machine means the test saw no device: that is a failure here
    if grep -q "SKIP: no CUDA device" "$OUT/ctest.log"; then
        note "FAIL: test_cuda_ops saw no CUDA device (skipped) on the GPU machine"
        rc_test=77
    fi
    note "ctest -L gpu: rc $rc_test; $(grep -E 'passed, [0-9]+ failed' "$OUT/ctest.log" | tail -1 | sed 's/^[0-9]*: //')"
    grep -E "^[0-9]+: FAIL" "$OUT/ctest.log" | sed 's/^[0-9]*: //' | head -30 >>"$summary"
fi

# ---- compute-sanitizer ----
sanitize() { # tool log share: the tool gets at most SAN_TIMEOUT s and its share of what the budget leaves
    local tool=$1 log=$2 share=$3 extra=()
    [ "$tool" = racecheck ] && extra=(--racecheck-report analysis)
    local t=$(($(left) / share))
    [ "$t" -gt "$SAN_TIMEOUT" ] && t=$SAN_TIMEOUT
    if [ "$t" -lt 20 ]; then note "$tool: skipped, the ${BUDGET} s budget is spent"; return 0; fi
    # racecheck only matters where shared memory is: the kernels that use it (CUDA_OPS_ONLY groups of the test)
    local only=""
    [ "$tool" = racecheck ] && only="attention,cached,classifier,classifier_kd,rmsnorm,gate,pointwise"
    CUDA_OPS_ONLY=$only timeout --kill-after=10 "$t" "$SAN" --tool "$tool" --error-exitcode 99 "${extra[@]}" \
        "$SRC/$TEST" >"$log" 2>&1
    local rc=$?
    local errs
    errs=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$log" | tail -1)
    if [ $rc -eq 124 ]; then
        note "$tool: TIMEOUT after ${t}s of the budget (no verdict: rerun this stage alone); $errs"
    else
        note "$tool: rc $rc (99 = sanitizer errors, 1 = test failures under the tool); ${errs:-no summary line}"
    fi
    grep -E "^========= (Invalid|Error|Race|.*hazard)" "$log" | sort | uniq -c | sort -rn | head -10 >>"$summary"
    return $rc
}
if [[ " $stages " == *" memcheck "* ]]; then
    sanitize memcheck "$OUT/memcheck.log" 2
    rc_mem=$?
fi
if [[ " $stages " == *" racecheck "* ]]; then
    sanitize racecheck "$OUT/racecheck.log" 1
    rc_race=$?
fi

# ---- throughput (validation/bench/gpu_bench.sh) ----
if [[ " $stages " == *" bench "* ]]; then
    # one rank through the root's mpirun (an MPI singleton would look for the root's orted on its own)
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 SHEAR="$SRC/$BUILD/shear" OUT="$OUT" \
        MPIRUN="$R/shim/mpirun -np 1 --oversubscribe" DEVICE=cuda bash "$SRC/validation/bench/gpu_bench.sh"
    rc_bench=$?
    note "bench: rc $rc_bench (1 = a case failed or ran out of memory; gpu_bench.md, gpu_bench.log)"
fi

note "time: $((SECONDS - T_START)) s (budget ${BUDGET} s)"
echo "==== summary ===="
cat "$summary"
ok=1
for rc in "$rc_build" "$rc_test" "$rc_mem" "$rc_race" "$rc_bench"; do
    [ "$rc" = skipped ] || [ "$rc" = 0 ] || ok=0
done
[ $ok = 1 ] && echo "ALL GPU CHECKS PASSED (stages: $stages)" || echo "GPU CHECKS FAILED (stages: $stages)"
[ $ok = 1 ]
