# Sourced by the main job and the validation scripts: pins the run-time kernel choice of the CPU libraries so
# that the figures are the same bits on every x86-64 machine, not only run to run on one.
# OpenBLAS (Debian's is built DYNAMIC_ARCH) picks its sgemm kernels from the CPU at load time: an AVX-512 Intel
# Xeon gets the SkylakeX/Cooperlake kernels, an AMD EPYC the Haswell ones (OpenBLAS's "Zen"), and the two sum
# in different orders. Rounding-level differences then grow over a 500-step pre-training: the tiny source's
# average eval loss was 5.8181 on a Xeon and 5.8172 on an EPYC at the same code, and 5.8172 on that Xeon with
# OPENBLAS_CORETYPE=Haswell (2026-12-07). Haswell's kernels (AVX2 + FMA) run on every machine these figures
# are made on.
# oneDNN (the bf16 GEMMs) dispatches by ISA the same way; capping it at AVX512_CORE_BF16 keeps an AMX machine
# on the kernels an AVX512-BF16 EPYC uses.
# Both are defaults: a value already in the environment wins. mpirun passes them to local ranks.
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
export DNNL_MAX_CPU_ISA=${DNNL_MAX_CPU_ISA:-AVX512_CORE_BF16}
