# The CPU backend of the ops interface: finite-difference gradients, forward references, the ADD/NULL contract.
shear_unit_test(test_ops_grad test_ops_grad.c)
# run.precision: bf16 GEMMs on the CPU backend (oneDNN) against float64 of the bf16-rounded inputs
shear_unit_test(test_ops_bf16 test_ops_bf16.c)
# classifier_kd (distillation): finite differences, a naive reference and its identities, on the same harness
shear_unit_test(test_ops_kd test_ops_kd.c)
# the SIMD clones of the CPU kernels (AdamW, the classifier's rows, sumsq) against their scalar loops, bitwise
shear_unit_test(test_ops_simd test_ops_simd.c)
set_tests_properties(test_ops_kd PROPERTIES LABELS "unit;kd")
