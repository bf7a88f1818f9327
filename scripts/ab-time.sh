#!/usr/bin/env bash
# Times one benchmark body in two or more builds of the `workload` example,
# alternating between them run after run, pinned to one core, and prints
# each build's fastest and median wall time. On a shared machine whose
# speed drifts from minute to minute, alternating puts every build through
# the same drift: a difference of a few percent that criterion's separate
# runs lose in the noise shows here.
#
# usage: scripts/ab-time.sh BODY ITERATIONS RUNS BINARY...
#   BODY: a workload body, e.g. tcp/lamina/handshake (`workload --list`)
#   ITERATIONS: iterations per run (aim at a second or so per run)
#   RUNS: runs of each build
#   BINARY: copies of target/release/examples/workload built from the
#   commits to compare (cargo build --release -p lamina-benches --example
#   workload, then copy the binary out before building the next)
#
# Example: scripts/ab-time.sh tcp/lamina/ping-pong-1 1000000 7 /tmp/wl-a /tmp/wl-b
#
# A BODY with STACK in place of the stack's name (stack/STACK/ping) runs
# both stacks' bodies alternately in each build, and prints smoltcp's time
# over Lamina's (min over min, median over median): the benchmark's ratio
# with both stacks put through the same drift of the machine (criterion
# measures one after the other, minutes apart). One BINARY is enough then.
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; /^set -e/d'; exit 2; }
body=$1 iterations=$2 runs=$3
shift 3
core=$(($(nproc) - 1))
case "$body" in
  *STACK*) bodies=("${body//STACK/lamina}" "${body//STACK/smoltcp}") ;;
  *) bodies=("$body") ;;
esac
declare -A times
for _ in $(seq "$runs"); do
  for bin in "$@"; do
    for b in "${bodies[@]}"; do
      start=$(date +%s.%N)
      taskset -c "$core" "$bin" "$b" "$iterations" >/dev/null
      end=$(date +%s.%N)
      times[$bin $b]="${times[$bin $b]:-} $(python3 -c "print($end - $start)")"
    done
  done
done
for bin in "$@"; do
  args=()
  for b in "${bodies[@]}"; do
    args+=("$b" "${times[$bin $b]}")
  done
  python3 - "$bin" "${args[@]}" <<'EOF'
import statistics, sys
name, *pairs = sys.argv[1:]
stats = []
for body, t in zip(pairs[::2], pairs[1::2]):
    t = [float(x) for x in t.split()]
    stats.append((min(t), statistics.median(t)))
    print(f"{body}  {name}: min {min(t):.3f} s  median {statistics.median(t):.3f} s  ({len(t)} runs)")
if len(stats) == 2:
    (lmin, lmed), (smin, smed) = stats
    print(f"  smoltcp / lamina: {smin / lmin:.2f}x (min), {smed / lmed:.2f}x (median)")
EOF
done
