# Job scripts (jobscripts/): shellcheck on every script; shear.sbatch forwarding USR1/TERM outside Slurm; PBS under
# a fake PBS environment (walltime budget, exit 75, resubmission through a fake qsub, resume to the end); the local
# requeue loop; chain.sh and the examples against a fake sbatch; shear.sbatch on a real single-node Slurm on
# localhost (skips with 77 when slurm-wlm/munge are missing or the daemons do not start; RUN_SERIAL: it times
# Slurm's signal against the run's progress).
set(JOBS_SRC ${CMAKE_CURRENT_SOURCE_DIR}/jobs)
set(JOBS_DIR ${CMAKE_CURRENT_BINARY_DIR}/jobs)
set(JOBS_STORE ${CMAKE_CURRENT_BINARY_DIR}/train/tokens.h5)
add_test(NAME jobs_shellcheck COMMAND bash ${JOBS_SRC}/shellcheck_test.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(jobs_shellcheck PROPERTIES SKIP_RETURN_CODE 77 LABELS jobs)
add_test(NAME jobs_pbs COMMAND bash ${JOBS_SRC}/pbs_test.sh $<TARGET_FILE:shear>
                                 ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml ${JOBS_STORE} ${JOBS_DIR}/pbs)
add_test(NAME jobs_local COMMAND bash ${JOBS_SRC}/local_test.sh $<TARGET_FILE:shear>
                                 ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml ${JOBS_STORE} ${JOBS_DIR}/local)
add_test(NAME jobs_sbatch_signal COMMAND bash ${JOBS_SRC}/sbatch_signal_test.sh $<TARGET_FILE:shear>
                                 ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml ${JOBS_STORE} ${JOBS_DIR}/sbatch_signal)
add_test(NAME jobs_chain COMMAND bash ${JOBS_SRC}/chain_test.sh ${JOBS_DIR}/chain)
add_test(NAME jobs_slurm COMMAND bash ${JOBS_SRC}/slurm_test.sh $<TARGET_FILE:shear>
                                 ${CMAKE_CURRENT_SOURCE_DIR}/train/deck.yaml ${JOBS_STORE} ${JOBS_DIR}/slurm)
set_tests_properties(jobs_pbs jobs_local jobs_sbatch_signal jobs_slurm PROPERTIES FIXTURES_REQUIRED train_store
                     LABELS "jobs;mpi" TIMEOUT 300)
set_tests_properties(jobs_chain PROPERTIES LABELS jobs)
set_tests_properties(jobs_slurm PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
