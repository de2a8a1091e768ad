#!/bin/sh
# Downloads the Debian 12 .deb files a CUDA build of Shear needs beyond the CUDA toolkit (Open MPI, parallel HDF5,
# libyaml, cJSON, OpenMP OpenBLAS, pkgconf, and the shared libraries they load) into validation/gpu/debs/ (ignored
# by git), for a GPU machine that has nvcc, CMake and gcc but none of these and no network: run_gpu_checks.sh
# unpacks them there with dpkg -x into a private root (never into /, where they could replace system files).
#
# Run it on THIS project's build machine (Debian 12, network, the build dependencies installed): the versions
# downloaded are exactly the installed ones, and the runtime libraries are found by ldd on the installed
# libraries, which is the closure the linker and the loader really need (apt's recursive dependency lists drag in
# compilers, perl and alternatives). glibc, libgcc, libstdc++ and libgomp are left out: the GPU machine's gcc
# brings its own, and two C libraries in one process do not mix.
#
# usage: sh validation/gpu/fetch_debs.sh [DEST]      (DEST defaults to validation/gpu/debs)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-$here/debs}

# headers, .pc files and link-time .so names, plus mpirun (tests/CMakeLists.txt requires one at configure time)
top="libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common libhdf5-openmpi-dev libhdf5-openmpi-103-1 libyaml-dev
libyaml-0-2 libcjson-dev libcjson1 libopenblas-openmp-dev libopenblas0-openmp pkgconf-bin libpkgconf3 libpcre2-dev
libpcre2-8-0 libutf8proc-dev libutf8proc2 libdnnl-dev libdnnl2 ocl-icd-libopencl1"
skip="libc6 libgcc-s1 libstdc++6 libgomp1"

for p in $top; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        echo "fetch_debs: $p is not installed here; install the build dependencies first (see README.md)" >&2
        exit 1
    fi
done

# every shared library and program of the top packages, then the packages of everything they load
libs=$(for p in $top; do dpkg -L "$p"; done | grep -E '\.so(\.[0-9]+)*$|/bin/[^/]+$' | sort -u)
deps=$(for f in $libs; do
    if [ ! -f "$f" ] || [ -L "$f" ]; then continue; fi
    ldd "$f" 2>/dev/null | awk '/=>/ && $3 ~ /^\// {print $3}'
done | sort -u | while read -r so; do
    dpkg -S "$so" 2>/dev/null || dpkg -S "$(readlink -f "$so")" 2>/dev/null || true
done | sed 's/:.*//; s/,.*//' | sort -u)

# shellcheck disable=SC2086  # word lists on purpose
want=$(printf '%s\n' $top $deps | sort -u | while read -r p; do
    case " $skip " in *" $p "*) ;; *) echo "$p" ;; esac
done)

mkdir -p "$dest"
cd "$dest"
rm -f ./*.deb
# the installed version where the archive still has it, else the archive's (a point release may have replaced it)
for p in $want; do
    v=$(dpkg-query -W -f='${Version}' "$p")
    apt-get -qq -o APT::Sandbox::User=root download "$p=$v" 2>/dev/null ||
        apt-get -qq -o APT::Sandbox::User=root download "$p"
done
n=$(find . -maxdepth 1 -name '*.deb' | wc -l)
echo "fetch_debs: $n packages, $(du -sh . | cut -f1) in $dest"
find . -maxdepth 1 -name '*.deb' -printf '%f\n' | sort
