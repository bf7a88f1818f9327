#!/usr/bin/env python3
"""Re-checks the test frames of `qemu-guest pair` in a filter-dump capture.

Usage: check_pcap.py LABEL PCAP FRAMES

Reads the capture with tshark (an independent decoder), keeps the frames
of EtherType 0x88b5, and checks that each direction holds exactly FRAMES
frames, in order, each of the expected length and payload. Prints one
PASS or FAIL line.
"""
import subprocess
import sys


def frame_len(seq):
    if seq % 10 == 0:
        return 60
    if seq % 10 == 1:
        return 1514
    return 60 + (seq * 7919) % 1455


def main():
    label, pcap, frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
    out = subprocess.run(
        ["tshark", "-r", pcap, "-Y", "eth.type == 0x88b5", "-T", "fields",
         "-e", "frame.len", "-e", "data.data"],
        capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(f"FAIL {label} pcap: tshark failed: {out.stderr.strip()[:200]}")
        return
    seen = {1: 0, 2: 0}
    bad = []
    for line in out.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) != 2:
            bad.append("undecodable line")
            continue
        length = int(parts[0])
        payload = bytes.fromhex(parts[1].replace(":", ""))
        if len(payload) < 5:
            bad.append(f"short frame of {length} bytes")
            continue
        direction = payload[0]
        seq = int.from_bytes(payload[1:5], "big")
        if direction not in seen:
            bad.append(f"unknown direction {direction}")
            continue
        want_seq = seen[direction]
        seen[direction] += 1
        if seq != want_seq:
            bad.append(f"dir {direction}: seq {seq} where {want_seq} was due")
            continue
        if length != frame_len(seq):
            bad.append(f"dir {direction} seq {seq}: {length} bytes, want {frame_len(seq)}")
            continue
        for j, b in enumerate(payload[5:]):
            i = j + 19
            if b != (i * 31 + seq) & 0xFF:
                bad.append(f"dir {direction} seq {seq}: byte {i} differs")
                break
    if seen[1] != frames or seen[2] != frames:
        bad.append(f"captured {seen[1]} a->b and {seen[2]} b->a frames, want {frames} each")
    if bad:
        print(f"FAIL {label} pcap: " + "; ".join(bad[:5]))
    else:
        print(f"PASS {label} pcap: {frames} frames each way intact in the capture")


main()
