"""What machine a benchmark ran on: the CPU, the vector extensions that decide which kernels run,
and the onnxruntime version. Every bench script prints it first and stores it in its --json output,
so that a number in the README can be tied to the CPU it was measured on.

One fact matters for accuracy as well as speed: onnxruntime's U8S8 integer kernels on x86 without
VNNI (AVX2, or AVX-512 without VNNI) use vpmaddubsw, which adds two u8*s8 products into a
SATURATING int16, so onnxruntime's results on 8-bit weights can differ from the exact arithmetic
(onnxruntime's documentation recommends reduce_range or U8U8 there). On VNNI CPUs (vpdpbusd adds
into int32) they are exact. octet's engine is exact on both (src/kernels/avx2/qgemm_avx2.h).
"""
from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_flags() -> tuple[str, set[str]]:
    """The CPU's model name and its flags, from /proc/cpuinfo (empty where it cannot be read)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return model, flags
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            model = value.strip()
        elif key.strip() == "flags":
            flags = set(value.split())
            break
    return model, flags


def ort_u8s8_saturates(flags: set[str] | None = None) -> bool:
    """True on an x86 CPU without VNNI: there onnxruntime's u8 x s8 kernels are inexact (above)."""
    if flags is None:
        flags = cpu_flags()[1]
    return platform.machine() in ("x86_64", "AMD64") and not (flags & {"avx512_vnni", "avx_vnni"})


def describe() -> dict:
    model, flags = cpu_flags()
    try:
        import onnxruntime
        ort = onnxruntime.__version__
    except ImportError:
        ort = None
    return dict(cpu=model, cores=os.cpu_count(), avx2="avx2" in flags, fma="fma" in flags,
                avx512f="avx512f" in flags, vnni=bool(flags & {"avx512_vnni", "avx_vnni"}), onnxruntime=ort,
                ort_u8s8_saturates=ort_u8s8_saturates(flags))


def banner(info: dict | None = None) -> str:
    d = info or describe()
    ext = ", ".join(n for n, on in (("AVX2", d["avx2"]), ("FMA", d["fma"]), ("AVX-512", d["avx512f"]),
                                     ("VNNI", d["vnni"])) if on) or "no AVX2"
    line = f"machine: {d['cpu']}, {d['cores']} cores, {ext}; onnxruntime {d['onnxruntime']}"
    if d["ort_u8s8_saturates"]:
        line += ("\n         no VNNI: onnxruntime's U8S8 integer kernels add u8*s8 pairs into a saturating"
                 " int16 here (vpmaddubsw), so its INT8 results are not exact on this CPU")
    return line
