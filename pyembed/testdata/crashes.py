"""Crashes the process in C on import, with the signal GOWSGI_TEST_CRASH names (crash_test.go)."""

import ctypes
import faulthandler
import mmap
import os
import platform
import tempfile

# An instruction the processor refuses, for SIGILL: ud2 on x86-64, udf #0 on arm64.
ILLEGAL_INSTRUCTION = {"x86_64": b"\x0f\x0b", "aarch64": b"\x00\x00\x00\x00"}


def segmentation_fault():
    ctypes.string_at(0)


def bus_error():
    """Reads a mapped page of a file that was truncated under it."""
    with tempfile.TemporaryFile() as f:
        f.truncate(mmap.PAGESIZE)
        mapped = mmap.mmap(f.fileno(), mmap.PAGESIZE)
        f.truncate(0)
        ctypes.string_at(ctypes.addressof(ctypes.c_char.from_buffer(mapped)), 1)


def floating_point_exception():
    faulthandler._sigfpe()


def illegal_instruction():
    code = ILLEGAL_INSTRUCTION[platform.machine()]
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    ctypes.CFUNCTYPE(None)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()


def abort():
    os.abort()


CRASHES = {
    "SIGSEGV": segmentation_fault,
    "SIGBUS": bus_error,
    "SIGFPE": floating_point_exception,
    "SIGILL": illegal_instruction,
    "SIGABRT": abort,
}

CRASHES[os.environ["GOWSGI_TEST_CRASH"]]()
