#!/usr/bin/env python3
"""Packs a directory into a gzip-compressed newc cpio archive (an
initramfs), so the test needs no cpio binary.

Usage: mkinitramfs.py DIR OUT
"""
import gzip
import os
import stat
import sys


def header(ino, mode, nlink, size, name):
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name) + 1, 0]
    return b"070701" + b"".join(b"%08x" % f for f in fields)


def pad(n):
    return b"\0" * ((4 - n % 4) % 4)


def main():
    root, out = sys.argv[1], sys.argv[2]
    data = bytearray()
    ino = 1
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root).encode()
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                body = os.readlink(path).encode()
            elif stat.S_ISREG(st.st_mode):
                body = open(path, "rb").read()
            else:
                body = b""
            nlink = 2 if stat.S_ISDIR(st.st_mode) else 1
            h = header(ino, st.st_mode, nlink, len(body), rel)
            data += h + rel + b"\0" + pad(len(h) + len(rel) + 1)
            data += body + pad(len(body))
            ino += 1
    h = header(0, 0, 1, 0, b"TRAILER!!!")
    data += h + b"TRAILER!!!\0" + pad(len(h) + 11)
    with gzip.open(out, "wb", compresslevel=1) as f:
        f.write(data)


main()
