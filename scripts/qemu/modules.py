#!/usr/bin/env python3
"""Resolves kernel modules and their dependencies from an unpacked kernel
package (which has no modules.dep: depmod never ran) by reading the
`depends=` entry of each module's .modinfo, and prints the module files
in load order.

Usage: modules.py MODULES_DIR NAME...
"""
import os
import sys


def main():
    root, names = sys.argv[1], sys.argv[2:]
    files = {}
    for dirpath, _, filenames in os.walk(root):
        for f in filenames:
            if f.endswith(".ko"):
                files[f[:-3].replace("-", "_")] = os.path.join(dirpath, f)
    order = []

    def visit(name, depth=0):
        name = name.replace("-", "_")
        if name in order or depth > 32:
            return
        path = files.get(name)
        if path is None:
            # Built into the kernel (or absent): nothing to load.
            print(f"modules.py: {name} not found as a module", file=sys.stderr)
            return
        data = open(path, "rb").read()
        i = data.find(b"\0depends=")
        deps = []
        if i != -1:
            end = data.index(b"\0", i + 1)
            deps = [d for d in data[i + 9:end].decode().split(",") if d]
        for d in deps:
            visit(d, depth + 1)
        if name not in order:
            order.append(name)

    for n in names:
        visit(n)
    for n in order:
        print(files[n])


main()
