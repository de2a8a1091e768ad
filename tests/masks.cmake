# Masks: hard-concrete gates and the Lagrangian (src/masks.c, kernels/cpu/cpu_masks.c).
# - test_masks: host math by hand (scores, sparsity, deterministic masks, E[#params] against a direct count),
#   target validation messages, sample statistics at a fixed seed, RNG coordinates, the optimizer step.
# - test_masks_model: finite differences of the LM loss through the hard-concrete sample of a real model, and
#   the constraint at work (a small masked model trained on masks only reaches its target sparsities).
# - masks_*: the C masks against validation/ref_masks.py + ref_llama.py (PyTorch, float64): Lagrangian and its
#   gradients, deterministic masks, z from an independent Philox, and the log-alpha gradients of LM loss +
#   Lagrangian through the sampled gates (tests/masks/run_masks_case.sh).
shear_unit_test(test_masks test_masks.c)
shear_unit_test(test_masks_model test_masks_model.c)
set_tests_properties(test_masks_model PROPERTIES TIMEOUT 240) # ~20 s; 80 s under the sanitizers

set(MASKS_SRC ${CMAKE_CURRENT_SOURCE_DIR}/masks)
set(MASKS_WORK ${CMAKE_CURRENT_BINARY_DIR}/masks)
add_executable(masks_driver masks/masks_driver.c)
target_link_libraries(masks_driver PRIVATE shearcore)
function(masks_case name)
  add_test(NAME ${name}
           COMMAND sh ${MASKS_SRC}/run_masks_case.sh $<TARGET_FILE:masks_driver> ${MASKS_WORK}/${name} ${ARGN})
  set_tests_properties(${name} PROPERTIES LABELS masks TIMEOUT 120
                       ENVIRONMENT "SHEAR_PYTHON=${SHEAR_PYTHON};OMP_NUM_THREADS=2")
endfunction()
# (a) MHA, the reference mask set, inside the target warm-up (step 30 of warmup 50)
masks_case(masks_mha --dim 48 --layers 3 --heads 4 --kv-heads 4 --head-dim 12 --intermediate 100 --vocab 97
           --batch 2 --seq 13 --seed 21
           -- --masks layer,head,intermediate,hidden --target-dim 32 --target-layers 2 --target-heads 2
           --target-intermediate 60 --step 30 --total-steps 100 --warmup-frac 0.5 --microbatch 3 --seed 5)
# (b) GQA (3 query heads per KV group) with the CoFi pair, after the warm-up
masks_case(masks_gqa_cofi --dim 40 --layers 2 --heads 6 --kv-heads 2 --head-dim 24 --intermediate 70 --vocab 101
           --batch 2 --seq 11 --seed 22
           -- --masks head_layer,mlp,head,intermediate,hidden --target-dim 24 --target-layers 1 --target-heads 3
           --target-intermediate 50 --step 90 --total-steps 100 --warmup-frac 0.2 --microbatch 17 --seed 6)
# (c) GQA, 3 KV groups, heads and MLP only (hidden and layers kept), no warm-up
masks_case(masks_gqa_subset --dim 72 --layers 3 --heads 6 --kv-heads 3 --head-dim 12 --intermediate 96 --vocab 64
           --batch 2 --seq 9 --seed 23
           -- --masks head,intermediate --target-dim 72 --target-layers 3 --target-heads 4 --target-intermediate 64
           --step 1 --total-steps 50 --warmup-frac 0 --microbatch 0 --seed 7)
# the harness catches a 1e-3 error in one gradient and names it
masks_case(masks_harness_detects --dim 48 --layers 3 --heads 4 --kv-heads 4 --head-dim 12 --intermediate 100
           --vocab 97 --batch 2 --seq 13 --seed 21
           -- --masks layer,head,intermediate,hidden --target-dim 32 --target-layers 2 --target-heads 2
           --target-intermediate 60 --step 30 --total-steps 100 --warmup-frac 0.5 --microbatch 3 --seed 5)
set_tests_properties(masks_harness_detects PROPERTIES
    ENVIRONMENT "SHEAR_PYTHON=${SHEAR_PYTHON};OMP_NUM_THREADS=2;MASKS_PERTURB=chain/lm_grad/head"
    PASS_REGULAR_EXPRESSION "FAIL chain/lm_grad/head .*[0-9]+ passed, 1 failed")
