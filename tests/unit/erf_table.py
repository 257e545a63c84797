#!/usr/bin/env python3
"""Prints the coefficient table of vecmath.h's v_erf.

erf on [0, 4) is cut into 16 intervals of width 1/4; on interval i, erf(4i/16 + u) for
u in [0, 1/4] is the polynomial of degree 5 through erf's values at the 6 Chebyshev
nodes of the interval (on the first, u times the one of degree 4 through erf(u) / u, so
erf(0) is 0), written in powers of u and rounded to float. Then it evaluates
the table as the C code does (float Horner with fused multiply-adds) on a dense grid and
prints the worst absolute error against math.erf, in double.

    python3 tests/unit/erf_table.py   # paste the table into core/vecmath.h
"""
import math
import struct

WIDTH = 0.25
INTERVALS = 16
DEGREE = 5


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def fit(g, n):
    """Coefficients c[0..n) of sum c[j] u^j through g(u) at the Chebyshev nodes of [0, WIDTH]."""
    s = [0.5 * (1 + math.cos(math.pi * (k + 0.5) / n)) for k in range(n)]  # in [0, 1]
    rows = [[sk**j for j in range(n)] + [g(WIDTH * sk)] for sk in s]
    for c in range(n):  # Gauss-Jordan with partial pivoting on the Vandermonde system in s
        p = max(range(c, n), key=lambda r: abs(rows[r][c]))
        rows[c], rows[p] = rows[p], rows[c]
        for r in range(n):
            if r != c:
                m = rows[r][c] / rows[c][c]
                rows[r] = [x - m * y for x, y in zip(rows[r], rows[c])]
    return [rows[j][n] / rows[j][j] / WIDTH**j for j in range(n)]  # s = u / WIDTH


def horner(c, u):
    p = c[-1]
    for cj in reversed(c[:-1]):
        p = f32(p * u + cj)  # float products are exact in double: this is one fma
    return p


def interval(i):
    if i == 0:  # erf(u) = u g(u): erf(0) is 0 exactly, and tiny u keep their relative accuracy
        return [0.0] + fit(lambda u: math.erf(u) / u if u else 2 / math.sqrt(math.pi), DEGREE)
    return fit(lambda u: math.erf(i * WIDTH + u), DEGREE + 1)


table = [[f32(x) for x in interval(i)] for i in range(INTERVALS)]
worst = 0.0
for i, c in enumerate(table):
    for k in range(4001):
        u = f32(WIDTH * k / 4000)
        worst = max(worst, abs(horner(c, u) - math.erf(i * WIDTH + u)))

def c_float(x):
    t = "%.9g" % x  # enough digits to give back the same float
    return (t if "." in t or "e" in t else t + ".0") + "f"


print("/* erf(i/4 + u) = sum_j ERF_TAB[j][i] u^j, u in [0, 1/4] (tests/unit/erf_table.py) */")
print("static const float ERF_TAB[%d][%d] __attribute__((aligned(64))) = {" % (DEGREE + 1, INTERVALS))
for j in range(DEGREE + 1):
    vals = ", ".join(c_float(table[i][j]) for i in range(INTERVALS))
    print("    {%s}," % vals)
print("};")
print("/* worst absolute error, float Horner against math.erf: %.3g */" % worst)
