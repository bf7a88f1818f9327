#!/usr/bin/env python3
"""The code one benchmark body runs: how many bytes of distinct
instructions execute at least once per iteration ("hot bytes"), over how
many 64-byte cache lines (the instruction-cache footprint, hot bytes plus
the code that shares their lines without running), and which functions
hold them (each with the cache lines its hot bytes touch, and the share of
those lines that is hot).

usage: scripts/hot-code.py FUNCTION [ITERATIONS] [TOP]
  FUNCTION: a `workload` body, e.g. tcp/lamina/handshake
  ITERATIONS: how many times to run it (default 200); an instruction is
  hot when it ran at least that many times
  TOP: how many functions to list (default 25)

Needs valgrind and objdump (binutils). Builds the `workload` example
(release) first. Unlike a count of simulated cache misses
(scripts/instr-ratios.sh --icache), these figures do not move with code layout:
they change only when the code run changes.
"""
import collections
import os
import re
import subprocess
import sys
import tempfile


def callgrind_costs(path):
    """Self cost (instructions executed) per instruction address."""
    positions = None
    last = [0, 0]
    in_call = False
    costs = collections.defaultdict(int)

    def val(tok, i):
        if tok == "*":
            return last[i]
        if tok[0] in "+-":
            return last[i] + int(tok, 0)
        return int(tok, 0)

    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("positions:"):
            positions = line.split()[1:]
            continue
        if line.startswith("calls="):
            in_call = True
            continue
        if not line or not (line[0].isdigit() or line[0] in "+-*"):
            continue
        t = line.split()
        n = len(positions)
        pos = [val(t[k], k) for k in range(n)]
        last[:] = pos
        if in_call:
            # The inclusive cost of a call, booked at the call instruction.
            in_call = False
            continue
        costs[pos[0]] += int(t[n]) if len(t) > n else 0
    return costs


def instructions(binary):
    """(address, size, function) of every instruction, from objdump."""
    out = subprocess.run(
        ["objdump", "-d", "-C", "--no-show-raw-insn", binary],
        check=True, capture_output=True, text=True).stdout
    func = None
    prev = None
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]+) <(.*)>:$", line)
        if m:
            func = m.group(2)
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s", line)
        if m:
            a = int(m.group(1), 16)
            if prev is not None and 0 < a - prev[0] <= 15:
                yield prev[0], a - prev[0], prev[1]
            prev = (a, func)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    name = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "lamina-benches",
                    "--example", "workload"], check=True, cwd=root)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    binary = os.path.join(target, "release", "examples", "workload")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", "--dump-instr=yes",
                        "--callgrind-out-file=" + out, binary, name, str(n)],
                       check=True, capture_output=True)
        costs = callgrind_costs(out)
    hot = {a for a, c in costs.items() if c >= n}
    hot_bytes = 0
    lines = set()
    per_fn = collections.Counter()
    fn_lines = collections.defaultdict(set)
    for a, size, func in instructions(binary):
        if a in hot:
            hot_bytes += size
            per_fn[func] += size
            for line in (a // 64, (a + size - 1) // 64):
                lines.add(line)
                fn_lines[func].add(line)
    print(f"{name}: {hot_bytes} hot bytes ({hot_bytes / 1024:.1f} KiB) "
          f"over {len(lines)} cache lines ({len(lines) * 64 / 1024:.1f} KiB)")
    print("(hot: run at least once per iteration, counting set-up as spread over them;")
    print(" per function: hot bytes, the cache lines they touch, and the share of")
    print(" those lines' bytes that is hot: a low share is hot code scattered")
    print(" among cold, which outlining the cold paths would pack)")
    for func, b in per_fn.most_common(top):
        n = len(fn_lines[func])
        print(f"{b:7d} {n:5d} lines {b / (n * 64):4.0%}  {func[:140]}")


if __name__ == "__main__":
    main()
