# shear prune + finalize on the tiny source of tests/train.cmake: 1, 2 and 3 ranks give the same LM-loss curve
# (mask samples keyed by the global micro-batch index), the finalized model has exactly the target shape, DBL
# records are distributions, infeasible targets are refused, and the Lagrangian plot is drawn.
set(TRAIN_DIR ${CMAKE_CURRENT_BINARY_DIR}/train) # the fixtures of train.cmake (included later)
set(PRUNE_DIR ${CMAKE_CURRENT_BINARY_DIR}/prune)
set(PRUNE_SRC ${CMAKE_CURRENT_SOURCE_DIR}/prune)
foreach(np 1 2 3)
  add_test(NAME prune_mpi_np${np}
           COMMAND ${SHEAR_MPIRUN} -np ${np} $<TARGET_FILE:shear> prune ${PRUNE_SRC}/deck.yaml
                   --set prune.source=${TRAIN_DIR}/np1/model.h5 --set data.store=${TRAIN_DIR}/tokens.h5
                   --set run.out_dir=${PRUNE_DIR}/np${np} --set run.threads=1)
  set_tests_properties(prune_mpi_np${np} PROPERTIES FIXTURES_REQUIRED "train_store;train_np1"
                       FIXTURES_SETUP prune_np${np} LABELS "mpi;prune" TIMEOUT 600)
endforeach()
add_test(NAME prune_mpi_same_curve
         COMMAND ${SHEAR_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/train/check_ranks.py --key lm_loss --drop -100
                 ${PRUNE_DIR}/np1/metrics.jsonl ${PRUNE_DIR}/np2/metrics.jsonl ${PRUNE_DIR}/np3/metrics.jsonl)
set_tests_properties(prune_mpi_same_curve PROPERTIES FIXTURES_REQUIRED "prune_np1;prune_np2;prune_np3"
                     LABELS "mpi;prune")
add_test(NAME prune_finalize
         COMMAND $<TARGET_FILE:shear> finalize --in ${PRUNE_DIR}/np2/pruned.h5 --out ${PRUNE_DIR}/sheared.h5)
set_tests_properties(prune_finalize PROPERTIES FIXTURES_REQUIRED prune_np2 FIXTURES_SETUP prune_final LABELS prune)
add_test(NAME prune_contracts
         COMMAND ${SHEAR_PYTHON} ${PRUNE_SRC}/check_prune.py ${PRUNE_DIR}/np2 ${PRUNE_DIR}/sheared.h5 24 1 2 1 48)
set_tests_properties(prune_contracts PROPERTIES FIXTURES_REQUIRED "prune_np2;prune_final" LABELS prune)
add_test(NAME prune_plot
         COMMAND ${SHEAR_PYTHON} ${CMAKE_SOURCE_DIR}/tools/plot_prune.py ${PRUNE_DIR}/np2/metrics.jsonl
                 ${PRUNE_DIR}/lagrangian.png)
set_tests_properties(prune_plot PROPERTIES FIXTURES_REQUIRED prune_np2 LABELS prune)
add_test(NAME prune_errors
         COMMAND bash ${PRUNE_SRC}/errors.sh $<TARGET_FILE:shear> ${PRUNE_SRC}/deck.yaml ${TRAIN_DIR}/np1/model.h5
                 ${TRAIN_DIR}/tokens.h5 ${PRUNE_DIR}/errors)
set_tests_properties(prune_errors PROPERTIES FIXTURES_REQUIRED "train_store;train_np1" LABELS prune)
# prune.uniform 0 (non-uniform, CoFi-style): 2 of 2 layers kept so the rows can differ; exact totals over the
# kept layers, and validation/nonuniform.py's fold (claim 3) against the masked models of both runs
add_test(NAME prune_nonuniform
         COMMAND $<TARGET_FILE:shear> prune ${PRUNE_SRC}/deck.yaml --set prune.uniform=0
                 --set prune.target_n_layers=2 --set prune.source=${TRAIN_DIR}/np1/model.h5
                 --set data.store=${TRAIN_DIR}/tokens.h5 --set run.out_dir=${PRUNE_DIR}/nonuniform --set run.threads=1)
set_tests_properties(prune_nonuniform PROPERTIES FIXTURES_REQUIRED "train_store;train_np1"
                     FIXTURES_SETUP prune_nonuniform LABELS prune TIMEOUT 600)
add_test(NAME prune_nonuniform_contracts
         COMMAND ${SHEAR_PYTHON} ${PRUNE_SRC}/check_nonuniform.py ${PRUNE_DIR}/nonuniform ${PRUNE_DIR}/np2 2 1 48
                 ${PRUNE_DIR})
set_tests_properties(prune_nonuniform_contracts PROPERTIES FIXTURES_REQUIRED "prune_nonuniform;prune_np2"
                     LABELS prune)
# dbl.reference: source measured on the model being pruned (no second source model in memory) equals the frozen
# copy that train from another model file loads, bit for bit; only the copy is in the memory estimate
add_test(NAME prune_dbl_reference
         COMMAND ${SHEAR_PYTHON} ${PRUNE_SRC}/check_ref.py $<TARGET_FILE:shear> ${PRUNE_SRC}/deck.yaml
                 ${TRAIN_DIR}/np1/model.h5 ${TRAIN_DIR}/tokens.h5 ${PRUNE_DIR}/reference)
set_tests_properties(prune_dbl_reference PROPERTIES FIXTURES_REQUIRED "train_store;train_np1" LABELS "prune;dbl"
                     TIMEOUT 300)
