#!/usr/bin/env python3
"""HDF5 exports whose weights live outside the file (issue 13): telme convert must refuse them.

    /work/venv/bin/python Scripts/make_external_storage_fixtures.py

From Tests/TelmeImportTests/Fixtures/export/meld-teacher.h5, writes to
Tests/TelmeImportTests/Fixtures/hostile/:
  external-absolute.h5   /teacher/W.weight stored in /etc/hostname (h5py external=[...]),
                         the attack of the issue: any readable file becomes weights;
  external-relative.h5   the same dataset stored in "external-relative.bin" (relative path),
                         which holds the dataset's real values, so only the storage is wrong;
  external-relative.bin  those values;
  external-fifo.h5       stored in "external.fifo" (the test makes that FIFO next to a copy).
A virtual dataset (h5py VirtualLayout) is refused the same way and has its own fixture:
  virtual.h5             /teacher/W.weight mapped from external-relative.h5's dataset.
"""
import os
import shutil

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "Tests/TelmeImportTests/Fixtures/export/meld-teacher.h5")
OUT = os.path.join(ROOT, "Tests/TelmeImportTests/Fixtures/hostile")
NAME = "teacher/W.weight"


def rewrite(target, make):
    path = os.path.join(OUT, target)
    shutil.copy(SOURCE, path)
    with h5py.File(path, "r+") as f:
        values = f[NAME][()]
        attrs = dict(f[NAME].attrs)
        del f[NAME]
        make(f, values)
        for key, value in attrs.items():
            f[NAME].attrs[key] = value
    return values


def external(storage, size=None):
    def make(f, values):
        f.create_dataset(NAME, shape=values.shape, dtype=values.dtype,
                         external=[(storage, 0, size or values.nbytes)])
    return make


def main():
    values = rewrite("external-absolute.h5", external("/etc/hostname", h5py.h5f.UNLIMITED))
    rewrite("external-relative.h5", external("external-relative.bin"))
    values.astype(values.dtype.newbyteorder("<")).tofile(os.path.join(OUT, "external-relative.bin"))
    rewrite("external-fifo.h5", external("external.fifo"))

    def virtual(f, values):
        layout = h5py.VirtualLayout(shape=values.shape, dtype=values.dtype)
        layout[...] = h5py.VirtualSource("external-relative.h5", NAME, shape=values.shape)
        f.create_virtual_dataset(NAME, layout)
    rewrite("virtual.h5", virtual)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
