#!/usr/bin/env python3
"""Extracts the uncompressed kernel from an xz-compressed bzImage.

Usage: extract_vmlinux.py VMLINUZ OUT

QEMU boots the uncompressed ELF through PVH in a few seconds, where the
compressed image spends most of its boot decompressing under TCG.
"""
import lzma
import sys

data = open(sys.argv[1], "rb").read()
magic = b"\xfd7zXZ\x00"
start = data.find(magic)
while start != -1:
    try:
        out = lzma.LZMADecompressor().decompress(data[start:])
        if out[:4] == b"\x7fELF":
            open(sys.argv[2], "wb").write(out)
            sys.exit(0)
    except lzma.LZMAError:
        pass
    start = data.find(magic, start + 1)
sys.exit("no xz-compressed ELF kernel found")
