#!/usr/bin/env bash
# Instructions per iteration of the `stack` and `tcp` benchmark bodies,
# Lamina's against smoltcp's, counted by callgrind: unlike times, the
# counts do not move with the load of a shared machine, so they show what
# a change did where criterion's ratios are lost in the noise. (They are
# not times: cache misses, branch predictions and the width of the CPU
# are not in them. The criterion groups remain the measure.)
#
# With --icache, each body runs under cachegrind instead, with a simulated
# 32 KiB, 8-way L1 instruction cache (this machine's), and the misses per
# iteration are printed beside the instructions. A body whose code does
# not fit misses on every iteration (a loop over more lines than the
# cache holds evicts each before its next use): this shows it without
# hardware counters, which shared VMs often lack. The simulation has no
# prefetcher, so a miss costs less on a real CPU; and the count moves by
# about 10% with code layout alone (scripts/hot-code.py gives the code
# size, which does not).
#
# usage: scripts/instr-ratios.sh [--icache] [FUNCTION...]
#   FUNCTION: a function name of the groups without its stack, e.g.
#   stack/ping or tcp/handshake; all of them by default.
#
# Needs valgrind (apt-get install -y valgrind). Each body runs N and 2N
# times after its set-up; the difference of the two counts over N is one
# iteration exactly (set-up and exit cancel out).
set -euo pipefail
cd "$(dirname "$0")/.."

icache=false
if [ "${1:-}" = --icache ]; then
  icache=true
  shift
fi

command -v valgrind >/dev/null || { echo "instr-ratios: needs valgrind (apt-get install -y valgrind)" >&2; exit 1; }

cargo build --release -q -p lamina-benches --example workload
bin="${CARGO_TARGET_DIR:-target}/release/examples/workload"

# Iterations per function: enough that one iteration's count is exact to
# the instruction, few enough to run in seconds under valgrind.
iterations() {
  case "$1" in
    stack/idle-poll) echo 20000 ;;
    stack/ping|tcp/ping-pong-1|tcp/handshake) echo 1000 ;;
    stack/udp-*) echo 500 ;;
    tcp/bulk-*) echo 2 ;;
    *) echo 100 ;;
  esac
}

count() { # NAME N -> "instructions [I1-misses]" of the whole run
  if $icache; then
    valgrind --tool=cachegrind --cache-sim=yes --I1=32768,8,64 --D1=49152,12,64 \
      --LL=1048576,16,64 --cachegrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
      | awk '/I *refs:/ {gsub(",", "", $4); i=$4} /I1 *misses:/ {gsub(",", "", $4); m=$4} END {print i, m}'
  else
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
      | sed -n 's/.*Collected : *\([0-9]*\).*/\1 0/p'
  fi
}

per_iteration() { # NAME N -> "instructions misses" per iteration
  local ai am bi bm
  read -r ai am < <(count "$1" "$2")
  read -r bi bm < <(count "$1" $(($2 * 2)))
  echo $(((bi - ai) / $2)) $(((bm - am) / $2))
}

if [ $# -gt 0 ]; then
  functions=("$@")
else
  mapfile -t functions < <("$bin" --list | sed -n 's#^\([a-z]*\)/lamina/#\1/#p')
fi

if $icache; then
  printf '%-18s %12s %10s %12s %10s\n' function "lamina ins" "I1 miss" "smoltcp ins" "I1 miss"
else
  printf '%-18s %14s %14s %7s\n' function lamina smoltcp ratio
fi
for f in "${functions[@]}"; do
  group=${f%%/*}
  name=${f#*/}
  n=$(iterations "$f")
  read -r l lm < <(per_iteration "$group/lamina/$name" "$n")
  read -r s sm < <(per_iteration "$group/smoltcp/$name" "$n")
  if $icache; then
    printf '%-18s %12s %10s %12s %10s\n' "$f" "$l" "$lm" "$s" "$sm"
  else
    ratio=$(python3 -c "print(f'{$s / $l:.2f}x')")
    printf '%-18s %14s %14s %7s\n' "$f" "$l" "$s" "$ratio"
  fi
done
