#!/usr/bin/python3
"""Test circuits for axnn's EvoApproxLib C import (tests/test_axmul.c, tests/cli/mul.sh).

Run from the repository root:  /usr/bin/python3 tests/gen/gen_axmul.py   (plain python3)
Outputs go to tests/data/axmul/:

  tc_exact.c       exact signed 8x8 multiplier, int16_t f(int8_t, int8_t)
  tc_trunc3.c      the same array with every partial product of columns 0..2 dropped (= trunc:3)
  tc_bam24_u8.c    broken array, rows b0..b1 and columns 0..3 dropped (= bam:2,4), written with
                   the other EvoApproxLib signature uint16_t f(uint8_t, uint8_t) (two's-complement
                   bits in, bits of an int16 out)
  tc_badheader.c   tc_trunc3's circuit under a header whose MAE and MSE lines are wrong
  tc_nocompile.c   a syntax error
  tc_segv.c        writes through a null pointer for one operand pair
  tc_loop.c        spins forever for one operand pair
  tc_nofunc.c      a header and C code, but no multiplier function
  tc_zeroerr.c     exact except f(0, b) = 7: errors only where the exact product is zero
  tc_bigrel.c      exact except f(1, 1) = 100 (relative error 9900%) and f(0, 5) = -3
  tc_umul.c        an unsigned multiplier in EvoApproxLib's mul8u form, uint64_t f(const
                   uint64_t B, const uint64_t A), with the 3 low product bits cleared
  tc_arity.c       int16_t tc_arity(int8_t A): one operand (rejected)
  tc_types.c       int16_t tc_types(float A, float B): wrong types (rejected)
  esc_*.c          escape attempts for the sandbox (tests/cli/mul.sh): write a file, fork, exec,
                   kill the parent, a constructor that writes a file, a huge malloc; each would
                   leave a file or process under $AXNN_ESCAPE if it got through

The circuits are generated here as gate-level C in the layout EvoApproxLib uses (a comment header
of error metrics and PDK45 figures, then one function of AND/XOR/OR expressions on single bits).
The netlist is a Baugh-Wooley array: a partial product a_i & b_j for every kept cell, inverted
when exactly one of i, j is 7, plus a correction constant; each column is then reduced with full
and half adders from the least significant column up (a column-compression tree, not a
carry-save row array). The correction constant is -(sum of 2^(i+j) over the kept inverted cells)
mod 2^16, so a dropped partial product removes exactly its signed weight w_ij a_i b_j 2^(i+j)
(w = -1 when exactly one of i, j is 7): the convention of axnn's built-in trunc:K and bam:H,V.

Before a circuit is written, a Python simulation of its netlist is checked against the
arithmetic model over all 65,536 operand pairs. The header metrics are computed from the
arithmetic model with EvoApproxLib's definitions (e = approx - exact over all pairs):
MAE = mean|e|, MAE% = MAE / 2^16 * 100, WCE = max|e|, WCE% = WCE / 2^16 * 100,
EP% = % of pairs with e != 0, MSE = mean e^2, and over the pairs whose exact product is
non-zero only: WCRE% = max |e| / |exact| * 100, MRE% = mean |e| / |exact| * 100 (checked
against the headers of EvoApproxLib's own files; see src/axmul/metrics.c). They are printed with two or three significant
digits, as in EvoApproxLib's headers. The PDK45 lines of these test circuits are not synthesis
results: power and area scale EvoApproxLib's exact multiplier (0.425 mW, 729.8 um2) by the
fraction of the 64 partial-product cells kept, which is also axnn's power model for built-ins.
"""
import math
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "axmul")
OPERANDS = range(-128, 128)


# ------------------------------------------------------------------------- arithmetic model ----

def bit(x, i):
    return (x >> i) & 1  # Python's >> on negative ints is arithmetic: two's-complement bits


def weight(i, j):
    return -1 if (i == 7) != (j == 7) else 1


def array_product(a, b, keep):
    """Signed partial-product sum over the kept cells (i = bit of a, j = bit of b)."""
    s = 0
    for i in range(8):
        for j in range(8):
            if keep(i, j):
                s += weight(i, j) * bit(a, i) * bit(b, j) << (i + j)
    return s


def metrics(f, operands=OPERANDS):
    n = 65536
    sae = sse = ep = 0
    wce = 0
    sre = wcre = 0.0
    nrel = 0
    for a in operands:
        for b in operands:
            x = a * b
            e = f(a, b) - x
            sae += abs(e)
            sse += e * e
            ep += e != 0
            wce = max(wce, abs(e))
            if x != 0:
                r = abs(e) / abs(x)
                sre += r
                wcre = max(wcre, r)
                nrel += 1
    mae = sae / n
    return {"MAE%": mae / n * 100, "MAE": mae, "WCE%": wce / n * 100, "WCE": wce,
            "WCRE%": wcre * 100, "EP%": ep / n * 100, "MRE%": sre / nrel * 100, "MSE": sse / n}


# -------------------------------------------------------------------------------- netlist ----

class Netlist:
    """Single-bit wires w<k> = expression; inputs a<i>, b<j>; constants '1'."""

    def __init__(self):
        self.lines, self.exprs, self.n = [], [], 0

    def wire(self, expr, py):
        name = "w%d" % self.n
        self.n += 1
        self.lines.append("    %s = %s;" % (name, expr))
        self.exprs.append((name, py))
        return name

    def full_add(self, x, y, z):
        t = self.wire("%s ^ %s" % (x, y), ("xor", x, y))
        s = self.wire("%s ^ %s" % (t, z), ("xor", t, z))
        c = self.wire("(%s & %s) | (%s & %s)" % (x, y, t, z), ("maj", x, y, t, z))
        return s, c

    def half_add(self, x, y):
        s = self.wire("%s ^ %s" % (x, y), ("xor", x, y))
        c = self.wire("%s & %s" % (x, y), ("and", x, y))
        return s, c


def build_array(keep):
    """Columns of partial-product wires, reduced to 16 output wires (None = constant 0)."""
    net = Netlist()
    cols = [[] for _ in range(17)]
    corr = 0
    for i in range(8):
        for j in range(8):
            if not keep(i, j):
                continue
            inv = weight(i, j) < 0
            expr = "a%d & b%d" % (i, j)
            cols[i + j].append(net.wire("(%s) ^ 1" % expr if inv else expr, ("pp", i, j, inv)))
            if inv:
                corr -= 1 << (i + j)
    corr %= 1 << 16
    for k in range(16):
        if bit(corr, k):
            cols[k].append("1")
    out = []
    for k in range(16):
        col = cols[k]
        while len(col) > 2:
            s, c = net.full_add(col.pop(0), col.pop(0), col.pop(0))
            col.append(s)
            cols[k + 1].append(c)
        if len(col) == 2:
            s, c = net.half_add(col[0], col[1])
            cols[k + 1].append(c)
            col[:] = [s]
        out.append(col[0] if col else None)
    return net, out


def simulate(net, out, a, b):
    v = {"1": 1}
    for i in range(8):
        v["a%d" % i], v["b%d" % i] = bit(a, i), bit(b, i)
    for name, e in net.exprs:
        if e[0] == "pp":
            v[name] = (bit(a, e[1]) & bit(b, e[2])) ^ (1 if e[3] else 0)
        elif e[0] == "xor":
            v[name] = v[e[1]] ^ v[e[2]]
        elif e[0] == "and":
            v[name] = v[e[1]] & v[e[2]]
        else:
            v[name] = (v[e[1]] & v[e[2]]) | (v[e[3]] & v[e[4]])
    p = sum(v[w] << k for k, w in enumerate(out) if w is not None)
    return p - (1 << 16) if p >= 1 << 15 else p


# ---------------------------------------------------------------------------------- files ----

def sig(v, digits):
    """v with `digits` significant digits (at least two decimals for small values)."""
    if v == 0:
        return "0.00"
    dec = max(0, digits - 1 - math.floor(math.log10(abs(v))))
    return "%.*f" % (dec, v)


def header(m, cells, note):
    p = 0.425 * cells / 64
    area = 729.8 * cells / 64
    return "\n".join([
        "/***",
        "* Test circuit for axnn's EvoApproxLib import, generated by tests/gen/gen_axmul.py.",
        "* " + note,
        "* The PDK45 figures below are not synthesis results: axnn's cell-count model",
        "* (EvoApproxLib's exact 8x8 signed multiplier scaled by the kept partial products).",
        "***/",
        "// MAE%% = %s %%" % sig(m["MAE%"], 2),
        "// MAE = %s " % sig(m["MAE"], 2),
        "// WCE%% = %s %%" % sig(m["WCE%"], 2),
        "// WCE = %d " % m["WCE"],
        "// WCRE%% = %.2f %%" % m["WCRE%"],
        "// EP%% = %.2f %%" % m["EP%"],
        "// MRE%% = %s %%" % sig(m["MRE%"], 2),
        "// MSE = %s " % sig(m["MSE"], 2),
        "// PDK45_PWR = %.3f mW" % p,
        "// PDK45_AREA = %.1f um2" % area,
        "// PDK45_DELAY = 1.48 ns",
        "#include <stdint.h>",
        "#include <stdlib.h>",
        "",
    ])


def circuit_c(name, net, out, signed):
    ty_in, ty_out = ("int8_t", "int16_t") if signed else ("uint8_t", "uint16_t")
    names = ["w%d" % k for k in range(net.n)]
    decl = []
    for k in range(0, len(names), 16):
        decl.append("    uint8_t " + ", ".join(names[k:k + 16]) + ";")
    body = [
        "%s %s(%s A, %s B)" % (ty_out, name, ty_in, ty_in),
        "{",
        "    /* operand bits (two's complement) */",
        "    uint8_t " + ", ".join("a%d = (A >> %d) & 1" % (i, i) for i in range(4)) + ";",
        "    uint8_t " + ", ".join("a%d = (A >> %d) & 1" % (i, i) for i in range(4, 8)) + ";",
        "    uint8_t " + ", ".join("b%d = (B >> %d) & 1" % (i, i) for i in range(4)) + ";",
        "    uint8_t " + ", ".join("b%d = (B >> %d) & 1" % (i, i) for i in range(4, 8)) + ";",
    ] + decl + ["    uint16_t R = 0;", "    /* partial products, then column compression */"]
    body += net.lines
    for k, w in enumerate(out):
        if w is not None:
            body.append("    R |= (uint16_t)((%s & 1) << %d);" % (w, k))
    body.append("    return (%s)R;" % ty_out)
    body.append("}")
    return "\n".join(body) + "\n"


def write(name, text):
    with open(os.path.join(OUT, name), "w") as f:
        f.write(text)


def gate_circuit(fname, func, keep, signed, note, lie=None):
    def model(a, b):
        return array_product(a, b, keep)
    net, out = build_array(keep)
    for a in OPERANDS:
        for b in OPERANDS:
            assert simulate(net, out, a, b) == model(a, b), (fname, a, b)
    m = metrics(model)
    if lie:
        m.update(lie)
    cells = sum(1 for i in range(8) for j in range(8) if keep(i, j))
    write(fname, header(m, cells, note) + "\n" + circuit_c(func, net, out, signed))
    return m


BROKEN_HEAD = """// MAE% = 0.00 %
// MAE = 0 
// WCE% = 0.00 %
// WCE = 0 
// WCRE% = 0.00 %
// EP% = 0.00 %
// MRE% = 0.00 %
// MSE = 0 
// PDK45_PWR = 0.425 mW
// PDK45_AREA = 729.8 um2
// PDK45_DELAY = 1.48 ns
#include <stdint.h>
#include <stdlib.h>

"""

BROKEN = {
    "tc_nocompile.c": """/* Broken on purpose: a missing semicolon. */
int16_t tc_nocompile(int8_t A, int8_t B)
{
    int16_t R = (int16_t)(A * B)
    return R;
}
""",
    "tc_segv.c": """/* Broken on purpose: writes through a null pointer when A == 77 and B == -3. */
int16_t tc_segv(int8_t A, int8_t B)
{
    volatile int *volatile sink = NULL;
    if (A == 77 && B == -3) *sink = 1;
    return (int16_t)(A * B);
}
""",
    "tc_loop.c": """/* Broken on purpose: never returns for A == 5 and B == 5 (volatile, so the loop stays). */
int16_t tc_loop(int8_t A, int8_t B)
{
    volatile int spin = 1;
    while (A == 5 && B == 5 && spin) {
    }
    return (int16_t)(A * B);
}
""",
    "tc_nofunc.c": """/* Broken on purpose: no function with a multiplier's signature. */
int tc_nofunc(int A, int B)
{
    return A * B;
}
""",
}


def simple_circuit(fname, model, body, signature, note, operands=OPERANDS):
    """A behavioural circuit (C expressions, not gates) under a header computed from model."""
    m = metrics(model, operands)
    write(fname, header(m, 64, note) + "\n" + signature + "\n{\n" + body + "}\n")
    return m


ESCAPE_HEAD = BROKEN_HEAD.replace("#include <stdlib.h>\n", """#include <stdlib.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* Where an escape would leave its trace: $AXNN_ESCAPE/NAME (tests/cli/mul.sh checks it stays
 * empty). */
static void escape_path(char *buf, size_t n, const char *name)
{
    const char *d = getenv("AXNN_ESCAPE");
    snprintf(buf, n, "%s/%s", d ? d : "/tmp", name);
}
""")

ESCAPES = {
    "esc_write.c": """/* Escape attempt: creates a file when first called. */
int16_t esc_write(int8_t A, int8_t B)
{
    static int done;
    if (!done) {
        char p[4096];
        escape_path(p, sizeof p, "written");
        FILE *f = fopen(p, "w");
        if (f) {
            fputs("escaped", f);
            fclose(f);
        }
        done = 1;
    }
    return (int16_t)(A * B);
}
""",
    "esc_fork.c": """/* Escape attempt: forks a process that creates a file and outlives the import. */
int16_t esc_fork(int8_t A, int8_t B)
{
    static int done;
    if (!done) {
        done = 1;
        if (fork() == 0) {
            char p[4096];
            escape_path(p, sizeof p, "forked");
            sleep(2);
            FILE *f = fopen(p, "w");
            if (f) fclose(f);
            _exit(0);
        }
    }
    return (int16_t)(A * B);
}
""",
    "esc_exec.c": """/* Escape attempt: replaces the process by a shell that creates a file. */
int16_t esc_exec(int8_t A, int8_t B)
{
    char p[4096], cmd[4200];
    escape_path(p, sizeof p, "executed");
    snprintf(cmd, sizeof cmd, "touch '%s'", p);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    return (int16_t)(A * B);
}
""",
    "esc_kill.c": """/* Escape attempt: kills the importing process (the parent of the tabulation). */
int16_t esc_kill(int8_t A, int8_t B)
{
    kill(getppid(), SIGKILL);
    return (int16_t)(A * B);
}
""",
    "esc_ctor.c": """/* Escape attempt: a constructor, run when the object is loaded, creates a file. */
__attribute__((constructor)) static void esc_ctor_init(void)
{
    char p[4096];
    escape_path(p, sizeof p, "constructed");
    FILE *f = fopen(p, "w");
    if (f) fclose(f);
}

int16_t esc_ctor(int8_t A, int8_t B)
{
    return (int16_t)(A * B);
}
""",
    "esc_malloc.c": """/* Escape attempt: allocates and touches 64 GiB. */
int16_t esc_malloc(int8_t A, int8_t B)
{
    static char *p;
    size_t n = (size_t)64 << 30;
    if (!p) {
        p = malloc(n);
        memset(p, 1, n);
    }
    return (int16_t)(A * B + p[0] - 1);
}
""",
}


def main():
    os.makedirs(OUT, exist_ok=True)
    m = gate_circuit("tc_exact.c", "tc_exact", lambda i, j: True, True,
                     "An exact Baugh-Wooley array multiplier.")
    print("tc_exact", m)
    m = gate_circuit("tc_trunc3.c", "tc_trunc3", lambda i, j: i + j >= 3, True,
                     "Baugh-Wooley array, partial products of columns 0..2 dropped (trunc:3).")
    print("tc_trunc3", m)
    m = gate_circuit("tc_bam24_u8.c", "tc_bam24_u8", lambda i, j: j >= 2 and i + j >= 4, False,
                     "Broken array: rows b0, b1 and columns 0..3 dropped (bam:2,4), uint8 form.")
    print("tc_bam24_u8", m)
    m = gate_circuit("tc_badheader.c", "tc_badheader", lambda i, j: i + j >= 3, True,
                     "tc_trunc3's circuit; its MAE and MSE header lines are wrong on purpose.",
                     lie={"MAE": 3.1, "MSE": 80.0})
    for name, text in BROKEN.items():
        write(name, BROKEN_HEAD + text)
    for name, text in ESCAPES.items():
        write(name, ESCAPE_HEAD + text)
    m = simple_circuit(
        "tc_zeroerr.c", lambda a, b: 7 if a == 0 else a * b,
        "    return A == 0 ? 7 : (int16_t)(A * B);\n", "int16_t tc_zeroerr(int8_t A, int8_t B)",
        "Exact except f(0, b) = 7: every error is on a zero product (MRE = WCRE = 0).")
    print("tc_zeroerr", m)
    m = simple_circuit(
        "tc_bigrel.c",
        lambda a, b: 100 if (a, b) == (1, 1) else -3 if (a, b) == (0, 5) else a * b,
        "    if (A == 1 && B == 1) return 100;\n    if (A == 0 && B == 5) return -3;\n"
        "    return (int16_t)(A * B);\n", "int16_t tc_bigrel(int8_t A, int8_t B)",
        "Exact except f(1, 1) = 100 (relative error 9900%) and f(0, 5) = -3.")
    print("tc_bigrel", m)
    m = simple_circuit(
        "tc_umul.c", lambda a, b: (a * b) & ~7,
        "    return (A * B) & ~(uint64_t)7;\n", "uint64_t tc_umul(const uint64_t B, const uint64_t A)",
        "Unsigned 8x8 multiplier, the 3 low product bits cleared (mul8u form).", range(256))
    print("tc_umul", m)
    write("tc_arity.c", BROKEN_HEAD + """/* Broken on purpose: one operand. */
int16_t tc_arity(int8_t A)
{
    return (int16_t)(A * A);
}
""")
    write("tc_types.c", BROKEN_HEAD + """/* Broken on purpose: float operands. */
int16_t tc_types(float A, float B)
{
    return (int16_t)(A * B);
}
""")


if __name__ == "__main__":
    main()
