# Hugging Face interop: shear import / shear export (src/hf.c, src/safetensors*.c).
#   hf_safetensors_unit   conversions (exhaustive 16-bit, vs _Float16 and nearest-even), parsers, writer/reader
#   hf_import_*           random validation-model folders (MHA/GQA, sharded or not, F32/BF16/F16) import; shear
#                         eval == PyTorch loss on the same windows (rel 1e-5); export is byte-identical
#   hf_export_sheared     a `shear finalize` output exports; the folder loads in PyTorch with shear eval's loss;
#                         bf16/f16 exports are torch's rounding byte for byte; bf16 imports back and re-exports
#   hf_errors             corrupt safetensors / index / config and bad export requests: clear errors
#   hf_fuzz_safetensors   libFuzzer on the header and index parsers, 30 s (skipped without clang + libFuzzer)
set(HF_DIR ${CMAKE_CURRENT_BINARY_DIR}/hf)
set(HF_SRC ${CMAKE_CURRENT_SOURCE_DIR}/hf)
set(HF_ENV "OMP_NUM_THREADS=2;SHEAR_PYTHON=${SHEAR_PYTHON}")

add_test(NAME hf_setup COMMAND ${CMAKE_COMMAND} -E make_directory ${HF_DIR})
set_tests_properties(hf_setup PROPERTIES FIXTURES_SETUP hf_dir)

add_executable(test_safetensors hf/test_safetensors.c)
target_link_libraries(test_safetensors PRIVATE shearcore)
add_test(NAME hf_safetensors_unit COMMAND test_safetensors ${HF_DIR})
set_tests_properties(hf_safetensors_unit PROPERTIES LABELS "unit;hf" FIXTURES_REQUIRED hf_dir)

# name | seq len | --max-shard-size of the re-export (0 = default) | make_hf.py arguments
set(HF_IMPORT_CASES
    "mha_f32_single|64|0|--inv-freq --seed 1"
    "mha_bf16_sharded|64|40KB|--dtype BF16 --shards 3 --seed 2"
    "gqa_f32_sharded|50|60KiB|--dim 48 --heads 6 --kv-heads 2 --head-dim 12 --intermediate 80 --vocab 300 --dtype F32 --shards 2 --seed 3"
    "gqa_bf16_single|50|0|--dim 48 --heads 6 --kv-heads 2 --head-dim 12 --intermediate 80 --vocab 300 --dtype BF16 --seed 4"
    "gqa_f16_sharded|33|30KB|--dim 40 --layers 3 --heads 4 --kv-heads 1 --head-dim 16 --intermediate 72 --dtype F16 --shards 4 --seed 5"
    # Llama 3.x RoPE (rope_type llama3: an original context of 32 positions puts head_dim 16's frequencies in
    # all three bands within the 64-token windows) and linear scaling; config.json's rope_scaling round-trips
    "rope_llama3|64|0|--dim 64 --heads 4 --kv-heads 2 --head-dim 16 --rope-theta 500000 --rope-scaling {\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":32,\"rope_type\":\"llama3\"} --inv-freq --seed 6"
    "rope_linear|64|0|--rope-scaling {\"factor\":4.0,\"rope_type\":\"linear\"} --seed 7"
    # the families (issue 16): Llama 3.2 (tied embedding, llama3 RoPE), Mistral (a window as long as the
    # sequences: accepted at the boundary), Qwen2.5 (q/k/v biases; tied and untied, BF16 shards), Qwen3 (q/k
    # norms, head_dim 16 != 40 / 4, tied)
    "llama3_tied|64|0|--family llama3-tied --dim 64 --heads 4 --kv-heads 2 --head-dim 16 --rope-theta 500000 --rope-scaling {\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":32,\"rope_type\":\"llama3\"} --seed 8"
    "mistral|64|0|--family mistral --sliding-window 64 --dim 48 --heads 6 --kv-heads 2 --head-dim 8 --seed 9"
    "qwen2_tied|50|30KB|--family qwen2 --tie --dim 48 --heads 6 --kv-heads 2 --head-dim 8 --dtype BF16 --shards 2 --seed 10"
    "qwen2_untied|50|0|--family qwen2 --dim 48 --heads 6 --kv-heads 2 --head-dim 8 --seed 11"
    "qwen2_window|50|0|--family qwen2 --sliding-window 50 --dim 48 --heads 6 --kv-heads 2 --head-dim 8 --seed 13"
    "qwen3_tied|50|0|--family qwen3 --tie --dim 40 --heads 4 --kv-heads 2 --head-dim 16 --seed 12")
foreach(entry ${HF_IMPORT_CASES})
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 name)
  list(GET parts 1 seq)
  list(GET parts 2 shard)
  list(GET parts 3 args)
  separate_arguments(args)
  add_test(NAME hf_import_${name}
           COMMAND sh ${HF_SRC}/import_case.sh $<TARGET_FILE:shear> ${HF_DIR}/${name} ${seq} ${shard} ${args})
  set_tests_properties(hf_import_${name} PROPERTIES LABELS hf TIMEOUT 120 ENVIRONMENT "${HF_ENV}"
                       FIXTURES_REQUIRED hf_dir)
endforeach()

add_test(NAME hf_export_sheared
         COMMAND sh ${HF_SRC}/export_case.sh $<TARGET_FILE:shear> ${HF_DIR}/sheared 40 --vocab 300 --seed 7)
set_tests_properties(hf_export_sheared PROPERTIES LABELS hf TIMEOUT 120 ENVIRONMENT "${HF_ENV}"
                     FIXTURES_REQUIRED hf_dir)

add_test(NAME hf_errors COMMAND ${SHEAR_PYTHON} ${HF_SRC}/errors.py $<TARGET_FILE:shear> ${HF_DIR}/errors)
set_tests_properties(hf_errors PROPERTIES LABELS hf TIMEOUT 180 ENVIRONMENT "${HF_ENV}" FIXTURES_REQUIRED hf_dir)

# libFuzzer needs clang and its runtime (Debian: clang, libclang-rt-14-dev); probe once at configure time.
find_program(SHEAR_CLANG NAMES clang clang-14)
set(HF_FUZZ_OK OFF)
if(SHEAR_CLANG)
  set(probe ${CMAKE_CURRENT_BINARY_DIR}/fuzz_probe)
  file(WRITE ${probe}.c "#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return d && n > 99; }\n")
  execute_process(COMMAND ${SHEAR_CLANG} -fsanitize=fuzzer,address ${probe}.c -o ${probe}
                  RESULT_VARIABLE probe_rc OUTPUT_QUIET ERROR_QUIET)
  if(probe_rc EQUAL 0)
    set(HF_FUZZ_OK ON)
  endif()
endif()
if(HF_FUZZ_OK)
  set(HF_FUZZER ${CMAKE_CURRENT_BINARY_DIR}/fuzz_safetensors)
  add_custom_command(OUTPUT ${HF_FUZZER}
    COMMAND ${SHEAR_CLANG} -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
            -fno-sanitize-recover=undefined -I${CMAKE_SOURCE_DIR}/include ${CJSON_CFLAGS}
            ${CMAKE_SOURCE_DIR}/src/safetensors_parse.c ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_safetensors.c
            ${CJSON_LDFLAGS} -o ${HF_FUZZER}
    DEPENDS ${CMAKE_SOURCE_DIR}/src/safetensors_parse.c ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_safetensors.c
            ${CMAKE_SOURCE_DIR}/include/shear/safetensors_parse.h
    COMMENT "libFuzzer target fuzz_safetensors (clang)")
  add_custom_target(fuzz_safetensors ALL DEPENDS ${HF_FUZZER})
  add_test(NAME hf_fuzz_safetensors
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzz.sh ${HF_FUZZER} ${HF_DIR}/fuzz 30)
else()
  add_test(NAME hf_fuzz_safetensors
           COMMAND sh -c "echo 'SKIP: no clang with libFuzzer (apt-get install clang libclang-rt-14-dev, then re-run cmake)'; exit 77")
endif()
set_tests_properties(hf_fuzz_safetensors PROPERTIES LABELS hf TIMEOUT 120 SKIP_RETURN_CODE 77 FIXTURES_REQUIRED hf_dir)
