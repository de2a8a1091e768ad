# The CUDA emulation's execution model (tests/cuda_emu/src/emu_launch.cc) on kernels of its own
# (cuda_emu/test_emu_kernels.cc): indices, barriers, shuffles, shared memory and its NaN poison, atomics, the
# launch limits, and the faults it must report (deadlock, race under two thread orders, host pointer,
# out-of-bounds write, bad shuffle mask, too much static shared memory). Label "unit" (so ASan runs it too) and
# "cuda-emu". The emulation library (execution model and runtime) is test infrastructure: it lives here, with
# the tests, and nothing of shear links it.
enable_language(CXX ASM)
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
find_package(OpenMP REQUIRED COMPONENTS CXX)
set(EMU_ROOT ${CMAKE_SOURCE_DIR}/tests/cuda_emu)
add_library(shear_cuda_emu STATIC ${EMU_ROOT}/src/emu_launch.cc ${EMU_ROOT}/src/emu_runtime.cc
            ${EMU_ROOT}/src/emu_switch_x86_64.S)
target_include_directories(shear_cuda_emu PUBLIC ${EMU_ROOT}/include PRIVATE ${EMU_ROOT}/src)
target_compile_options(shear_cuda_emu PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall> $<$<COMPILE_LANGUAGE:CXX>:-Wextra>)
target_link_libraries(shear_cuda_emu PUBLIC OpenMP::OpenMP_CXX)
add_executable(test_emu_kernels cuda_emu/test_emu_kernels.cc)
target_link_libraries(test_emu_kernels PRIVATE shear_cuda_emu)
target_include_directories(test_emu_kernels PRIVATE ${CMAKE_SOURCE_DIR}/kernels/cuda)
target_compile_options(test_emu_kernels PRIVATE -Wall -Wno-unknown-pragmas -ffp-contract=off)
add_test(NAME emu_kernels COMMAND test_emu_kernels)
set_tests_properties(emu_kernels PROPERTIES LABELS "unit;cuda-emu" ENVIRONMENT "OMP_NUM_THREADS=2" TIMEOUT 300)
