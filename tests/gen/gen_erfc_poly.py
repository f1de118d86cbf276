#!/usr/bin/python3
"""Coefficients of the erfc approximation used by the GELU kernels (src/kernels/transformer/).

For z >= 0 write erfc(z) = exp(-z^2) * G(t) with t = 2 / (2 + z), so t runs over (0, 1] and G is
smooth there (G(t) -> 0 like t / (2 sqrt(pi) (1 - t)) as z -> infinity, G(1) = 1). G is fitted
by a polynomial of degree DEG in t, least squares with relative weights on Chebyshev nodes,
against mpmath at 40 digits, then iteratively reweighted (Lawson) toward the minimax fit. The
script prints the float32 coefficients, lowest degree first, and the largest relative error of
the float32 Horner evaluation on a dense grid (the kernel's own error is checked in
tests/test_vit_ops.c against libm in double).

Run:  /usr/bin/python3 tests/gen/gen_erfc_poly.py
"""
import mpmath as mp
import numpy as np

DEG = 11
NODES = 600


def G(t):
    z = mp.mpf(2) / t - 2
    return mp.erfc(z) * mp.exp(z * z)


def horner32(c32, t):
    acc = np.full_like(t, c32[-1])
    for j in range(len(c32) - 2, -1, -1):
        acc = (acc * t + c32[j]).astype(np.float32)
    return acc


def main():
    mp.mp.dps = 40
    ts = [(1 - mp.cos(mp.pi * (k + 0.5) / NODES)) / 2 for k in range(NODES)]
    A = np.array([[float(t) ** j for j in range(DEG + 1)] for t in ts])
    y = np.array([float(G(t)) for t in ts])
    w = 1.0 / y
    for _ in range(30):  # Lawson: weights grow where the relative error is large
        c, *_ = np.linalg.lstsq(A * w[:, None], y * w, rcond=None)
        r = np.abs(A @ c / y - 1)
        w = w * (r / r.max()) ** 0.5 + 1e-30
    c32 = c.astype(np.float32)
    tt = np.linspace(1e-4, 1, 4001).astype(np.float32)
    ref = np.array([float(G(mp.mpf(float(t)))) for t in tt])
    err = np.max(np.abs(horner32(c32, tt) / ref - 1))
    print(f"degree {DEG}: max relative error of float32 Horner {err:.3g}")
    for j, v in enumerate(c32):
        print(f"    {float(v):.9e}f, /* t^{j} */")


if __name__ == "__main__":
    main()
