#!/bin/sh
# run_fuzz.sh FUZZER WORK SECONDS: seeds a corpus (a valid safetensors file, a broken one, an index) and runs
# the libFuzzer target for SECONDS with a fixed seed. Exit status: libFuzzer's (non-zero on any finding;
# the crashing input is left in WORK/ as crash-*).
set -eu
fuzzer=$1 work=$2 secs=$3
rm -rf "$work"
mkdir -p "$work/corpus"
# 8-byte little-endian length of a header text, then the header, then the data bytes
seed() {
    out=$1 hdr=$2 data=$3
    n=$(printf '%s' "$hdr" | wc -c)
    # shellcheck disable=SC2059  # the format is made of the octal escapes of the two length bytes
    printf "$(printf '\\%03o\\%03o' $((n & 255)) $((n >> 8 & 255)))\\000\\000\\000\\000\\000\\000" > "$out"
    printf '%s%s' "$hdr" "$data" >> "$out"
}
seed "$work/corpus/valid" '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[8,12]}}' 'abcdefghijkl'
seed "$work/corpus/overlap" '{"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},"b":{"dtype":"I8","shape":[4],"data_offsets":[4,8]}}' 'abcdefgh'
printf '%s' '{"metadata":{"total_size":12},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}' > "$work/corpus/index"
exec "$fuzzer" -seed=1 -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus"
