#!/usr/bin/env python3
"""The compute modes' ratios of `make bench`, timed in paired turns (tests/bench/README.md).

    paired.py DIR [--shapes 1x128,32x128] [--threads 1,2] [--rounds 8] [--seconds 1]

Starts `DIR/bench serve` (encoderd in-process) and `node bench_ort.js DIR --serve` (ONNX
Runtime, DIR/minilm.onnx and DIR/minilm.int8.onnx) side by side, both loaded once, and
sends them one shape at a time: in each round, for each shape and thread count, encoderd
bf16, encoderd int8, ONNX Runtime float32 and ONNX Runtime int8 in turn (each turn: warm-up,
then SECONDS of passes, its median), the order reversed every other round (an even number
of rounds puts each side first as often). The four turns of a shape in a round are seconds
apart, so that other work on a shared machine weighs on both sides of a ratio alike;
report.py takes, per ratio, the median over the rounds of the round's ratio.

Prints "settings  rounds  seconds", then "pair  threads  B  T  round  bf16_ms  int8_ms
ort_f32_ms  ort_int8_ms" lines.
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


class Side:
    """One serving process: a request line in, a "time ..." line out."""

    def __init__(self, name, argv):
        self.name = name
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def time(self, model, threads, B, T, seconds):
        self.p.stdin.write(f"{model} {threads} {B} {T} {seconds}\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        f = line.rstrip("\n").split("\t")
        if len(f) != 8 or f[0] != "time" or f[1:5] != [model, str(threads), str(B), str(T)]:
            sys.exit(f"paired.py: {self.name} answered {line!r} to {model} {threads} {B}x{T}")
        return float(f[5])

    def close(self):
        self.p.stdin.close()
        try:
            rc = self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            sys.exit(f"paired.py: {self.name} did not exit within 60 s of its input's end")
        if rc != 0:
            sys.exit(f"paired.py: {self.name} exited with {rc}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--shapes", default="1x128,32x128")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=1.0)
    a = ap.parse_args()
    shapes = [tuple(int(x) for x in s.split("x")) for s in a.shapes.split(",")]
    threads = [int(t) for t in a.threads.split(",")]
    enc = Side("bench serve", [os.path.join(a.dir, "bench"), "serve"])
    ort = Side("bench_ort.js --serve", ["node", os.path.join(HERE, "bench_ort.js"), a.dir, "--serve"])
    turns = [(enc, "bf16"), (enc, "int8"), (ort, "f32"), (ort, "int8")]
    print(f"settings\t{a.rounds}\t{a.seconds}", flush=True)
    for r in range(a.rounds):
        for B, T in shapes:
            for th in threads:
                order = turns if r % 2 == 0 else turns[::-1]
                ms = {(s.name, m): s.time(m, th, B, T, a.seconds) for s, m in order}
                row = [ms[(enc.name, "bf16")], ms[(enc.name, "int8")], ms[(ort.name, "f32")],
                       ms[(ort.name, "int8")]]
                print("pair\t%d\t%d\t%d\t%d\t%s" % (th, B, T, r + 1,
                                                    "\t".join("%.4f" % x for x in row)), flush=True)
                print(f"  round {r + 1} {B}x{T} threads {th}: bf16 {row[0]:.2f}, int8 {row[1]:.2f}, "
                      f"ORT f32 {row[2]:.2f}, ORT int8 {row[3]:.2f} ms", file=sys.stderr, flush=True)
    enc.close()
    ort.close()


if __name__ == "__main__":
    main()
