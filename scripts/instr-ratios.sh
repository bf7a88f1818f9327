#!/usr/bin/env bash
# Instructions per iteration of the `stack` and `tcp` benchmark bodies,
# Lamina's against smoltcp's, counted by callgrind: unlike times, the
# counts do not move with the load of a shared machine, so they show what
# a change did where criterion's ratios are lost in the noise. (They are
# not times: cache misses, branch predictions and the width of the CPU
# are not in them. The criterion groups remain the measure.)
#
# usage: scripts/instr-ratios.sh [FUNCTION...]
#   FUNCTION: a function name of the groups without its stack, e.g.
#   stack/ping or tcp/handshake; all of them by default.
#
# Needs valgrind (apt-get install -y valgrind). Each body runs N and 2N
# times after its set-up; the difference of the two counts over N is one
# iteration exactly (set-up and exit cancel out).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "instr-ratios: needs valgrind (apt-get install -y valgrind)" >&2; exit 1; }

cargo build --release -q -p lamina-benches --example workload
bin="${CARGO_TARGET_DIR:-target}/release/examples/workload"

# Iterations per function: enough that one iteration's count is exact to
# the instruction, few enough to run in seconds under callgrind.
iterations() {
  case "$1" in
    stack/idle-poll) echo 20000 ;;
    stack/ping|tcp/ping-pong-1|tcp/handshake) echo 1000 ;;
    stack/udp-*) echo 500 ;;
    tcp/bulk-*) echo 2 ;;
    *) echo 100 ;;
  esac
}

count() { # NAME N -> instructions of the whole run
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
    | sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}

per_iteration() { # NAME N
  local a b
  a=$(count "$1" "$2")
  b=$(count "$1" $(($2 * 2)))
  echo $(((b - a) / $2))
}

if [ $# -gt 0 ]; then
  functions=("$@")
else
  mapfile -t functions < <("$bin" --list | sed -n 's#^\([a-z]*\)/lamina/#\1/#p')
fi

printf '%-18s %14s %14s %7s\n' function lamina smoltcp ratio
for f in "${functions[@]}"; do
  group=${f%%/*}
  name=${f#*/}
  n=$(iterations "$f")
  l=$(per_iteration "$group/lamina/$name" "$n")
  s=$(per_iteration "$group/smoltcp/$name" "$n")
  ratio=$(python3 -c "print(f'{$s / $l:.2f}x')")
  printf '%-18s %14s %14s %7s\n' "$f" "$l" "$s" "$ratio"
done
