# Finalization (shearing.md section 4): fold the kept gates into the weights once and slice.
#   finalize_unit        logits of the dense model == masked source logits for MHA/GQA, every subset of
#                        {layer, head, intermediate, hidden} (layer pruning on and off), the CoFi pair, two gate
#                        value styles; tensors are the ascending folded slices; /masks round trip; errors.
#                        Leaves a C-written prune output (modelfile_save + maskfile_write) for the tests below.
#   finalize_ref_*       `shear finalize` on prune outputs written by h5py against validation/ref_llama.py's
#                        fold_and_slice: identical tensors (fp32, rel 1e-6) and equal logits in float64.
#   finalize_train       the finalized model loads and trains 2 steps (shear train --init).
#   finalize_cli_errors  missing /masks, inconsistent counts, all-zero type, bad shapes, not a model file.
set(FIN_DIR ${CMAKE_CURRENT_BINARY_DIR}/finalize)
set(FIN_SRC ${CMAKE_CURRENT_SOURCE_DIR}/finalize)
set(FIN_ENV "OMP_NUM_THREADS=2;SHEAR_PYTHON=${SHEAR_PYTHON}")
add_test(NAME finalize_setup COMMAND ${CMAKE_COMMAND} -E make_directory ${FIN_DIR})
set_tests_properties(finalize_setup PROPERTIES FIXTURES_SETUP finalize_dir)

add_executable(test_finalize test_finalize.c)
target_link_libraries(test_finalize PRIVATE shearcore)
add_test(NAME finalize_unit COMMAND test_finalize ${FIN_DIR})
set_tests_properties(finalize_unit PROPERTIES LABELS unit ENVIRONMENT "OMP_NUM_THREADS=2"
                     FIXTURES_REQUIRED finalize_dir FIXTURES_SETUP finalize_c_prune TIMEOUT 120)

# name: make_case.py arguments (shape, gate types, layer mode, value style)
set(FIN_REF_CASES
    "mha_all_layer_pruned|--heads 4 --kv-heads 4 --types layer,head,intermediate,hidden --layer-mode prune --style uniform --seed 1"
    "gqa_all_layer_pruned|--heads 6 --kv-heads 3 --types layer,head,intermediate,hidden --layer-mode prune --style det --seed 2"
    "gqa_cofi|--heads 8 --kv-heads 2 --types head_layer,mlp,head,intermediate,hidden --style uniform --seed 3"
    "mha_head_intermediate|--heads 4 --kv-heads 4 --types head,intermediate --style det --seed 4"
    "gqa_hidden_only|--heads 6 --kv-heads 2 --types hidden --style uniform --seed 5"
    "gqa_layer_kept|--heads 6 --kv-heads 3 --types layer,head --layer-mode keep --style uniform --seed 6")
foreach(entry ${FIN_REF_CASES})
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 name)
  list(GET parts 1 args)
  separate_arguments(args)
  add_test(NAME finalize_ref_${name}
           COMMAND sh ${FIN_SRC}/ref_case.sh $<TARGET_FILE:shear> ${FIN_DIR}/${name} ${args})
  set_tests_properties(finalize_ref_${name} PROPERTIES LABELS parity TIMEOUT 120 ENVIRONMENT "${FIN_ENV}"
                       FIXTURES_REQUIRED finalize_dir)
endforeach()

add_test(NAME finalize_train
         COMMAND sh ${FIN_SRC}/train_case.sh $<TARGET_FILE:shear> ${FIN_DIR}/train ${FIN_DIR}/prune_gqa.h5
                 ${CMAKE_CURRENT_SOURCE_DIR}/train/make_store.py ${FIN_SRC}/deck.yaml)
set_tests_properties(finalize_train PROPERTIES TIMEOUT 180 ENVIRONMENT "${FIN_ENV}"
                     FIXTURES_REQUIRED "finalize_dir;finalize_c_prune")
add_test(NAME finalize_cli_errors COMMAND bash ${FIN_SRC}/cli_errors.sh $<TARGET_FILE:shear> ${FIN_DIR}/cli)
set_tests_properties(finalize_cli_errors PROPERTIES TIMEOUT 120 ENVIRONMENT "${FIN_ENV}" FIXTURES_REQUIRED finalize_dir)
