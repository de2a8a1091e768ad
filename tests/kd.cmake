# Knowledge distillation (shear/distill.h, ops.h classifier_kd). The op's identities and finite differences are in
# test_ops_kd; here: the KD term against PyTorch (tests/kd/kd_torch.py through kd_driver) and the real commands
# with a teacher (tests/kd/distill_test.sh: the tiny store and model of tests/train).
set(KD_SRC ${CMAKE_CURRENT_SOURCE_DIR}/kd)
set(KD_DIR ${CMAKE_CURRENT_BINARY_DIR}/kd)
add_executable(kd_driver kd/kd_driver.c)
target_link_libraries(kd_driver PRIVATE shearcore)
add_test(NAME kd_torch COMMAND ${SHEAR_PYTHON} ${KD_SRC}/kd_torch.py $<TARGET_FILE:kd_driver> ${KD_DIR}/torch cpu)
set_tests_properties(kd_torch PROPERTIES LABELS "parity;kd" TIMEOUT 300 ENVIRONMENT "OMP_NUM_THREADS=2")
if(SHEAR_CUDA_EMU)
  # the CUDA backend's classifier_kd, emulated, against the same PyTorch reference
  add_test(NAME emu_kd_torch COMMAND ${SHEAR_PYTHON} ${KD_SRC}/kd_torch.py $<TARGET_FILE:kd_driver> ${KD_DIR}/torch_emu cuda)
  set_tests_properties(emu_kd_torch PROPERTIES LABELS "cuda-emu;kd" TIMEOUT 900 ENVIRONMENT "OMP_NUM_THREADS=2")
  # shear train with a teacher on the emulated CUDA backend (2 ranks, ZeRO, recompute) against the CPU
  add_test(NAME emu_distill_vs_cpu
           COMMAND bash ${KD_SRC}/distill_test.sh $<TARGET_FILE:shear> ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml
                   ${CMAKE_CURRENT_BINARY_DIR}/train/tokens.h5 ${CMAKE_CURRENT_BINARY_DIR}/train/np1/model.h5 ${KD_DIR}
                   emu ${SHEAR_MPIRUN})
  set_tests_properties(emu_distill_vs_cpu PROPERTIES FIXTURES_REQUIRED "train_store;train_np1"
                       LABELS "cuda-emu;mpi;kd" TIMEOUT 900 ENVIRONMENT "OMP_NUM_THREADS=1")
endif()
foreach(scenario alpha0 self ranks teacher prune errors)
  add_test(NAME distill_${scenario}
           COMMAND bash ${KD_SRC}/distill_test.sh $<TARGET_FILE:shear> ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml
                   ${CMAKE_CURRENT_BINARY_DIR}/train/tokens.h5 ${CMAKE_CURRENT_BINARY_DIR}/train/np1/model.h5 ${KD_DIR}
                   ${scenario} ${SHEAR_MPIRUN})
  set_tests_properties(distill_${scenario} PROPERTIES FIXTURES_REQUIRED "train_store;train_np1" LABELS "mpi;kd"
                       TIMEOUT 600)
endforeach()
# exact restart with a teacher (tests/resume/resume_test.sh: straight vs resumed on 2 ranks bitwise, resumed on 1
# and 3 ranks the same losses), for train and prune
add_test(NAME resume_train_distill
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/resume/resume_test.sh $<TARGET_FILE:shear> train
                 ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml ${KD_DIR}/resume_train
                 --set data.store=${CMAKE_CURRENT_BINARY_DIR}/train/tokens.h5 --set model.dim=16 --set model.n_heads=2
                 --set model.n_kv_heads=1 --set model.intermediate=32
                 --set distill.teacher=${CMAKE_CURRENT_BINARY_DIR}/train/np1/model.h5 --set distill.alpha=0.5
                 --set distill.topk=8)
add_test(NAME resume_prune_distill
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/resume/resume_test.sh $<TARGET_FILE:shear> prune
                 ${CMAKE_CURRENT_SOURCE_DIR}/prune/deck.yaml ${KD_DIR}/resume_prune
                 --set data.store=${CMAKE_CURRENT_BINARY_DIR}/train/tokens.h5
                 --set prune.source=${CMAKE_CURRENT_BINARY_DIR}/train/np1/model.h5
                 --set distill.teacher=${CMAKE_CURRENT_BINARY_DIR}/train/np1/model.h5 --set distill.temperature=2)
set_tests_properties(resume_train_distill resume_prune_distill PROPERTIES FIXTURES_REQUIRED "train_store;train_np1"
                     LABELS "mpi;resume;kd" TIMEOUT 600)
