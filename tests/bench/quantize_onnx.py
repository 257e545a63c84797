#!/usr/bin/python3
"""The int8 peer of the benchmark: a dynamically quantised copy of the float32 ONNX export.

    /usr/bin/python3 tests/bench/quantize_onnx.py IN.onnx OUT.onnx [--per-tensor]

Written with Debian's python3-onnx only (the onnxruntime Python package, whose
onnxruntime.quantization.quantize_dynamic does this, is not available here), the way that
quantiser writes a dynamically quantised MatMul:

    x (float) -> DynamicQuantizeLinear -> x_q (uint8), x_scale, x_zero_point
    MatMulInteger(x_q, W_q (int8), x_zero_point, 0) -> int32
    Cast(float) * (x_scale * W_scale) -> the MatMul's output, then the graph's own bias Add

Every MatMul whose second input is a 2-D float initializer (the linear layers: Q, K, V, the
attention output and both feed-forward products of each layer) is replaced; the attention
products (both inputs activations) stay float32, as encoderd's int8 mode keeps them.
Weights: symmetric int8, per output column (W_scale[n] = max |W[:, n]| / 127,
q = clip(round_half_even(W / W_scale), -127, 127), all in float32) as encoderd's
enc_qweight_pack quantises them; --per-tensor uses one scale for the whole matrix.
Activations: DynamicQuantizeLinear is per tensor (one scale and zero point for all B x T
rows of a product), where encoderd quantises each row alone; ONNX Runtime's CPU graph
optimiser fuses the pattern into its MatMulIntegerToFloat kernel.
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def quantize_weight(w, per_tensor):
    """w (K, N) float32 -> q (K, N) int8, scale (N,) float32 (or (1,) per tensor)."""
    m = np.max(np.abs(w)) if per_tensor else np.max(np.abs(w), axis=0)
    scale = (np.asarray(m, dtype=np.float32) / np.float32(127.0)).astype(np.float32)
    safe = np.where(scale == 0, np.float32(1.0), scale)
    q = np.clip(np.round(w / safe), -127, 127)
    q = np.where(scale == 0, 0, q).astype(np.int8)
    return q, np.atleast_1d(scale).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--per-tensor", action="store_true", help="one weight scale per matrix")
    a = ap.parse_args()

    model = onnx.load(a.src)
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    nodes, replaced, zero_name = [], 0, "qdq_w_zero_point"
    g.initializer.append(numpy_helper.from_array(np.array(0, dtype=np.int8), zero_name))
    for node in g.node:
        w = inits.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if w is None or len(w.dims) != 2 or w.data_type != TensorProto.FLOAT:
            nodes.append(node)
            continue
        name = node.name or node.output[0]
        q, scale = quantize_weight(numpy_helper.to_array(w), a.per_tensor)
        wq, ws = f"{w.name}_quantized", f"{w.name}_scale"
        g.initializer.append(numpy_helper.from_array(q, wq))
        g.initializer.append(numpy_helper.from_array(scale, ws))
        x, y = node.input[0], node.output[0]
        xq, xs, xz = f"{name}_x_q", f"{name}_x_scale", f"{name}_x_zero_point"
        acc, accf, s = f"{name}_int32", f"{name}_int32_float", f"{name}_scale"
        nodes += [
            helper.make_node("DynamicQuantizeLinear", [x], [xq, xs, xz], f"{name}_quant"),
            helper.make_node("MatMulInteger", [xq, wq, xz, zero_name], [acc], f"{name}_MatMulInteger"),
            helper.make_node("Cast", [acc], [accf], f"{name}_cast", to=TensorProto.FLOAT),
            helper.make_node("Mul", [xs, ws], [s], f"{name}_scale_mul"),
            helper.make_node("Mul", [accf, s], [y], f"{name}_output_mul"),
        ]
        replaced += 1
    del g.node[:]
    g.node.extend(nodes)
    # the float weights no longer read by any node
    used = {i for n in g.node for i in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    onnx.checker.check_model(model)
    onnx.save(model, a.dst)
    print(f"quantize_onnx: {replaced} MatMuls made int8 ({'per tensor' if a.per_tensor else 'per column'}"
          f" weights, per-tensor dynamic activations); wrote {a.dst}", file=sys.stderr)
    if replaced == 0:
        sys.exit("quantize_onnx: no MatMul with a 2-D float weight found")


if __name__ == "__main__":
    main()
