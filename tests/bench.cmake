# The GPU benchmark scripts (validation/bench/gpu_bench.sh, torch_llama_bench.py, make_model.py, the report) in
# their CPU smoke mode: tiny shapes, a few steps, every case (continued pre-training, pruning), Shear and PyTorch,
# so the scripts the next GPU session runs are known to work end to end. Timings are not checked.
add_test(NAME bench_gpu_smoke
         COMMAND ${CMAKE_COMMAND} -E env DEVICE=cpu TINY=1 SHEAR=$<TARGET_FILE:shear> PY=${SHEAR_PYTHON}
                 OUT=${CMAKE_CURRENT_BINARY_DIR}/bench_smoke WORK=${CMAKE_CURRENT_BINARY_DIR}/bench_smoke/work
                 bash ${CMAKE_SOURCE_DIR}/validation/bench/gpu_bench.sh)
set_tests_properties(bench_gpu_smoke PROPERTIES LABELS "mpi;bench" TIMEOUT 600) # exits 1 when any row failed
# validation/bench/gemm_bench.c: OpenBLAS sgemm vs oneDNN fp32 and bf16 at a model's GEMM shapes (the CPU
# backend's bf16 GEMMs, run.precision: bf16). Smoke mode here: a small shape, one repetition; it exits 1 when a
# product is wrong (sampled against float64), so the benchmark's own check runs in CI. Timings are not checked.
add_executable(gemm_bench ${CMAKE_SOURCE_DIR}/validation/bench/gemm_bench.c)
target_include_directories(gemm_bench PRIVATE ${CMAKE_SOURCE_DIR}/include ${DNNL_INCLUDE_DIR})
target_link_libraries(gemm_bench PRIVATE shear_blas ${DNNL_LIBRARY} OpenMP::OpenMP_C m)
add_test(NAME bench_gemm_smoke
         COMMAND gemm_bench --dim 64 --intermediate 96 --heads 4 --kv-heads 2 --vocab 500 --tokens 128 --layers 1
                 --reps 1 --threads 2 --json ${CMAKE_CURRENT_BINARY_DIR}/bench_gemm_smoke.json)
set_tests_properties(bench_gemm_smoke PROPERTIES LABELS bench TIMEOUT 300)
