# The GPU benchmark scripts (validation/bench/gpu_bench.sh, torch_llama_bench.py, make_model.py, the report) in
# their CPU smoke mode: tiny shapes, a few steps, every case (continued pre-training, pruning), Shear and PyTorch,
# so the scripts the next GPU session runs are known to work end to end. Timings are not checked.
add_test(NAME bench_gpu_smoke
         COMMAND ${CMAKE_COMMAND} -E env DEVICE=cpu TINY=1 SHEAR=$<TARGET_FILE:shear> PY=${SHEAR_PYTHON}
                 OUT=${CMAKE_CURRENT_BINARY_DIR}/bench_smoke WORK=${CMAKE_CURRENT_BINARY_DIR}/bench_smoke/work
                 bash ${CMAKE_SOURCE_DIR}/validation/bench/gpu_bench.sh)
set_tests_properties(bench_gpu_smoke PROPERTIES LABELS "mpi;bench" TIMEOUT 600) # exits 1 when any row failed
