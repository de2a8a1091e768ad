# The CUDA backend run on the CPU through the CUDA emulation (tests/cuda_emu), only in the -DSHEAR_CUDA_EMU=ON
# builds that tools/test.sh makes (build-emu, Release, runs label cuda-emu; build-asan, under AddressSanitizer,
# runs label unit). Label "cuda-emu":
#   emu_cuda_ops          tests/gpu/test_cuda_ops (every op, the whole model, 10 AdamW steps) under two thread
#                         orders with identical device outputs required (orders.sh)
#   emu_cuda_ops_short    the same without T = 4100, one shuffled order; also label "unit" (so under ASan)
#   emu_nccl_*            tests/nccl: the data-parallel communicator and collectives on 1, 2, 3 ranks, failures
#   emu_train_np1/3, emu_prune_np2, emu_train_vs_cpu, emu_prune_vs_cpu: shear with run.device: cuda against
#                         the CPU backend's runs of train.cmake / prune.cmake (tolerances in compare_backends.sh)
#   emu_zero_train, emu_resume_train, emu_watchdog_hang/die: ZeRO-1, exact resume and the failure paths with
#                         NCCL collectives
#   emu_generate_vs_cpu   shear generate --device cuda (KV cache and --no-cache) gives the CPU's greedy ids
#   emu_mutant_*          each mutant of mutate.py must make the emulated attention tests fail
if(SHEAR_CUDA_EMU)
  set(EMU_SRC ${CMAKE_CURRENT_SOURCE_DIR}/cuda_emu)
  set(EMU_DIR ${CMAKE_CURRENT_BINARY_DIR}/cuda_emu)
  set(EMU_ORDERS bash ${EMU_SRC}/orders.sh)
  set(EMU_TRAIN_DIR ${CMAKE_CURRENT_BINARY_DIR}/train)
  set(EMU_PRUNE_DIR ${CMAKE_CURRENT_BINARY_DIR}/prune)
  set(EMU_TESTS "")

  # the backend's own GPU tests, emulated
  add_test(NAME emu_cuda_ops COMMAND ${EMU_ORDERS} lane,reverse $<TARGET_FILE:test_cuda_ops>)
  set_tests_properties(emu_cuda_ops PROPERTIES TIMEOUT 1200)
  list(APPEND EMU_TESTS emu_cuda_ops)
  # the same without the T = 4100 case, in one shuffled order: label "unit" too, so the AddressSanitizer build of
  # tools/test.sh (an emulation build) runs every op and the whole model under ASan
  add_test(NAME emu_cuda_ops_short COMMAND ${EMU_ORDERS} shuffle:5 $<TARGET_FILE:test_cuda_ops>)
  set_tests_properties(emu_cuda_ops_short PROPERTIES ENVIRONMENT "CUDA_OPS_SHORT=1;OMP_NUM_THREADS=1" TIMEOUT 1200)
  foreach(np 1 2 3)
    add_test(NAME emu_nccl_collectives_np${np}
             COMMAND ${EMU_ORDERS} lane,shuffle:1 ${SHEAR_MPIRUN} -np ${np} $<TARGET_FILE:test_nccl>)
    list(APPEND EMU_TESTS emu_nccl_collectives_np${np})
  endforeach()
  add_test(NAME emu_nccl_failure_modes
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/nccl/modes.sh $<TARGET_FILE:test_nccl> ${SHEAR_MPIRUN})
  list(APPEND EMU_TESTS emu_nccl_failure_modes)

  # shear itself with run.device: cuda, against the CPU backend's runs (the fixtures of train.cmake, prune.cmake)
  # 1 rank and 3 (the uneven split of 4 micro-batches); 2 ranks are what emu_prune_np2 runs
  foreach(np 1 3)
    add_test(NAME emu_train_np${np}
             COMMAND ${EMU_ORDERS} shuffle:${np} ${SHEAR_MPIRUN} -np ${np} $<TARGET_FILE:shear> train
                     ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml --set data.store=${EMU_TRAIN_DIR}/tokens.h5
                     --set run.out_dir=${EMU_DIR}/train_np${np} --set run.threads=1 --set run.device=cuda)
    set_tests_properties(emu_train_np${np} PROPERTIES FIXTURES_REQUIRED train_store FIXTURES_SETUP emu_train_np${np}
                         ENVIRONMENT "OMP_NUM_THREADS=1" TIMEOUT 900)
    list(APPEND EMU_TESTS emu_train_np${np})
  endforeach()
  add_test(NAME emu_train_vs_cpu
           COMMAND bash ${EMU_SRC}/compare_backends.sh train ${EMU_TRAIN_DIR}/np1 ${EMU_DIR}/train_np1
                   ${EMU_DIR}/train_np3)
  set_tests_properties(emu_train_vs_cpu PROPERTIES FIXTURES_REQUIRED "train_np1;emu_train_np1;emu_train_np3")
  list(APPEND EMU_TESTS emu_train_vs_cpu)
  foreach(np 2)
    add_test(NAME emu_prune_np${np}
             COMMAND ${EMU_ORDERS} shuffle:${np} ${SHEAR_MPIRUN} -np ${np} $<TARGET_FILE:shear> prune
                     ${CMAKE_CURRENT_SOURCE_DIR}/prune/deck.yaml --set prune.source=${EMU_TRAIN_DIR}/np1/model.h5
                     --set data.store=${EMU_TRAIN_DIR}/tokens.h5 --set run.out_dir=${EMU_DIR}/prune_np${np}
                     --set run.threads=1 --set run.device=cuda)
    set_tests_properties(emu_prune_np${np} PROPERTIES FIXTURES_REQUIRED "train_store;train_np1"
                         FIXTURES_SETUP emu_prune_np${np} ENVIRONMENT "OMP_NUM_THREADS=1" TIMEOUT 900)
    list(APPEND EMU_TESTS emu_prune_np${np})
  endforeach()
  # run.precision: bf16 on the emulated CUDA backend against the CPU backend's bf16 (both from this build), and
  # not equal to the CUDA fp32 run
  foreach(dev cpu cuda)
    add_test(NAME emu_train_bf16_${dev}
             COMMAND ${SHEAR_MPIRUN} -np 1 $<TARGET_FILE:shear> train ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml
                     --set data.store=${EMU_TRAIN_DIR}/tokens.h5 --set run.out_dir=${EMU_DIR}/train_bf16_${dev}
                     --set run.threads=1 --set run.device=${dev} --set run.precision=bf16)
    set_tests_properties(emu_train_bf16_${dev} PROPERTIES FIXTURES_REQUIRED train_store
                         FIXTURES_SETUP emu_train_bf16_${dev} ENVIRONMENT "OMP_NUM_THREADS=1" TIMEOUT 900)
    list(APPEND EMU_TESTS emu_train_bf16_${dev})
  endforeach()
  add_test(NAME emu_train_bf16_vs_cpu
           COMMAND bash ${EMU_SRC}/compare_backends.sh train ${EMU_DIR}/train_bf16_cpu ${EMU_DIR}/train_bf16_cuda)
  set_tests_properties(emu_train_bf16_vs_cpu PROPERTIES
                       FIXTURES_REQUIRED "emu_train_bf16_cpu;emu_train_bf16_cuda;emu_train_np1"
                       ENVIRONMENT "COMPARE_TOL=1e-3;COMPARE_DIFFERS=${EMU_DIR}/train_np1")
  list(APPEND EMU_TESTS emu_train_bf16_vs_cpu)
  add_test(NAME emu_prune_vs_cpu
           COMMAND bash ${EMU_SRC}/compare_backends.sh prune ${EMU_PRUNE_DIR}/np1 ${EMU_DIR}/prune_np2)
  set_tests_properties(emu_prune_vs_cpu PROPERTIES FIXTURES_REQUIRED "prune_np1;emu_prune_np2")
  list(APPEND EMU_TESTS emu_prune_vs_cpu)
  add_test(NAME emu_zero_train
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/zero/zero_test.sh $<TARGET_FILE:shear> train
                   ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml ${EMU_DIR}/zero_train
                   --set data.store=${EMU_TRAIN_DIR}/tokens.h5 --set run.device=cuda)
  set_tests_properties(emu_zero_train PROPERTIES FIXTURES_REQUIRED train_store ENVIRONMENT "OMP_NUM_THREADS=1"
                       TIMEOUT 1200)
  list(APPEND EMU_TESTS emu_zero_train)
  add_test(NAME emu_resume_train
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/resume/resume_test.sh $<TARGET_FILE:shear> train
                   ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml ${EMU_DIR}/resume_train
                   --set data.store=${EMU_TRAIN_DIR}/tokens.h5 --set run.device=cuda)
  set_tests_properties(emu_resume_train PROPERTIES FIXTURES_REQUIRED train_store ENVIRONMENT "OMP_NUM_THREADS=1"
                       TIMEOUT 900)
  list(APPEND EMU_TESTS emu_resume_train)
  foreach(mode hang die)
    add_test(NAME emu_watchdog_${mode}
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/watchdog/failure.sh ${mode} $<TARGET_FILE:shear>
                     ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml ${EMU_TRAIN_DIR}/tokens.h5
                     ${EMU_DIR}/watchdog_${mode} ${SHEAR_MPIRUN})
    set_tests_properties(emu_watchdog_${mode} PROPERTIES FIXTURES_REQUIRED train_store TIMEOUT 120
                         ENVIRONMENT "SHEAR_TEST_DEVICE=cuda;OMP_NUM_THREADS=1")
    list(APPEND EMU_TESTS emu_watchdog_${mode})
  endforeach()

  # shear generate with --device cuda (the KV cache's decode ops on the CUDA backend) against --device cpu
  add_test(NAME emu_generate_vs_cpu
           COMMAND bash ${EMU_SRC}/generate_backends.sh $<TARGET_FILE:shear> ${EMU_DIR}/generate ${CMAKE_SOURCE_DIR})
  set_tests_properties(emu_generate_vs_cpu PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=1" TIMEOUT 600)
  list(APPEND EMU_TESTS emu_generate_vs_cpu)

  # mutants: each a copy of one kernel source with one bug (mutate.py), linked into its own test_cuda_ops (the
  # mutant's object file takes the place of the library's); the emulated attention tests must fail on it
  execute_process(COMMAND ${SHEAR_PYTHON} ${EMU_SRC}/mutate.py --list OUTPUT_VARIABLE EMU_MUTANT_LIST
                  OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
  string(REPLACE "\n" ";" EMU_MUTANT_LIST "${EMU_MUTANT_LIST}")
  foreach(line ${EMU_MUTANT_LIST})
    string(REPLACE " " ";" pair "${line}")
    list(GET pair 0 mname)
    list(GET pair 1 mfile)
    set(mout ${EMU_DIR}/mutants/${mname}/${mfile})
    add_custom_command(OUTPUT ${mout}
                       COMMAND ${CMAKE_COMMAND} -E make_directory ${EMU_DIR}/mutants/${mname}
                       COMMAND ${SHEAR_PYTHON} ${EMU_SRC}/mutate.py ${mname} ${CMAKE_SOURCE_DIR}/kernels/cuda ${mout}
                       DEPENDS ${EMU_SRC}/mutate.py ${CMAKE_SOURCE_DIR}/kernels/cuda/${mfile}
                       COMMENT "mutant ${mname} of kernels/cuda/${mfile}")
    set_source_files_properties(${mout} PROPERTIES LANGUAGE CXX)
    add_executable(test_cuda_ops_${mname} ${mout} gpu/test_cuda_ops.c gpu/test_cuda_cached.c gpu/test_cuda_bf16.c
                   gpu/test_cuda_gemm.c gpu/test_cuda_model.c gpu/cuda_parity.c)
    target_compile_definitions(test_cuda_ops_${mname} PRIVATE SHEAR_TEST_CUDA_EMU=1)
    target_link_libraries(test_cuda_ops_${mname} PRIVATE shearcore)
    target_include_directories(test_cuda_ops_${mname} PRIVATE ${CMAKE_SOURCE_DIR}/tests
                               ${CMAKE_SOURCE_DIR}/kernels/cuda)
    target_compile_options(test_cuda_ops_${mname} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wno-unknown-pragmas>
                           $<$<COMPILE_LANGUAGE:CXX>:-ffp-contract=off>)
    add_test(NAME emu_mutant_${mname}
             COMMAND bash ${EMU_SRC}/expect_fail.sh ${mname} ${EMU_ORDERS} lane,reverse
                     $<TARGET_FILE:test_cuda_ops_${mname}>)
    set_tests_properties(emu_mutant_${mname} PROPERTIES ENVIRONMENT "CUDA_OPS_ONLY=attention;CUDA_OPS_SHORT=1" TIMEOUT 900)
    list(APPEND EMU_TESTS emu_mutant_${mname})
  endforeach()

  set_tests_properties(${EMU_TESTS} PROPERTIES LABELS cuda-emu)
  set_tests_properties(emu_cuda_ops_short PROPERTIES LABELS "unit;cuda-emu")
endif()
