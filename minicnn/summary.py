"""``summary(model, input_shape)``: d2l's layer-by-layer shape table, with parameters and MACs.

d2l prints each layer's output shape by running a dummy input through the network
(d2l §7.6.1, §8.1); this does the same, and adds the parameter count and the number of
multiply-accumulates of each layer.
"""
import sys

from . import backend
from .autograd import Tensor, no_grad

_STDOUT = object()  # print to whatever sys.stdout is at call time (so redirect_stdout works)


def _count_parameters(module):
    return sum(p.size for p in module.parameters())


def _macs(module, input_shape, output_shape):
    """Multiply-accumulates of one forward pass of a conv/linear layer (0 for the rest)."""
    weight = getattr(module, "weight", None)
    if weight is None or weight.ndim not in (2, 4):
        return 0
    if weight.ndim == 2:  # Linear: one in·out product per row
        rows = 1
        for size in output_shape[:-1]:
            rows *= size
        return rows * weight.shape[0] * weight.shape[1]
    kernel = weight.shape[2] * weight.shape[3]
    if type(module).__name__ == "ConvTranspose2d":  # every input pixel meets the whole kernel
        n, c_in, h, w = input_shape
        return n * h * w * c_in * weight.shape[1] * kernel
    n, c_out, h, w = output_shape
    return n * c_out * h * w * weight.shape[1] * kernel


def _wrap(module, on_call):
    """Shadow ``module.forward`` with a version that reports (input shape, output shape)."""
    original = module.forward

    def traced(*inputs, **kwargs):
        output = original(*inputs, **kwargs)
        on_call(tuple(inputs[0].shape) if inputs else None, tuple(output.shape))
        return output

    module.forward = traced


def _rows_at_depth(module, name, depth):
    """(dotted name, module) of the modules listed in the table: ``depth`` levels down."""
    children = list(module.named_children())
    if depth == 0 or not children:
        return [(name, module)]
    rows = []
    for child_name, child in children:
        rows += _rows_at_depth(child, f"{name}.{child_name}" if name else child_name, depth - 1)
    return rows


def summary(model, input_shape, depth=1, file=_STDOUT):
    """Run a zero input of ``input_shape`` ((C, H, W) or (N, C, H, W)) through ``model``
    and print each layer's output shape, parameter count and MACs; returns the rows.

    ``depth=1`` lists the model's direct children (as d2l's loops do); larger depths
    open the blocks; ``file=None`` prints nothing.
    """
    shape = tuple(input_shape)
    if len(shape) == 3:
        shape = (1,) + shape
    rows, macs = [], {}
    listed = _rows_at_depth(model, "", depth)
    for module in model.modules():  # every layer counts its own MACs
        if not list(module.children()):
            _wrap(module, lambda i, o, m=module: macs.__setitem__(id(m), macs.get(id(m), 0) + _macs(m, i, o)))
    for name, module in listed:
        _wrap(module, lambda i, o, n=name, m=module: rows.append(
            {"name": n, "type": type(m).__name__, "output_shape": o, "params": _count_parameters(m),
             "macs": sum(macs.get(id(leaf), 0) for leaf in m.modules())}))
    _run(model, shape)
    if file is not None:
        _print_table(rows, _count_parameters(model), sys.stdout if file is _STDOUT else file)
    return rows


def _run(model, shape):
    was_training = model.training
    model.eval()
    first = next(iter(model.parameters()), None)
    dtype = first.dtype if first is not None else "float32"
    try:
        with no_grad():
            model(Tensor(backend.xp().zeros(shape, dtype=dtype)))
    finally:
        for module in model.modules():
            module.__dict__.pop("forward", None)
        model.train(was_training)


def _print_table(rows, total_params, file):
    width = max([28] + [len(f"{r['name']} ({r['type']})") + 2 for r in rows])
    header = f"{'layer':<{width}}{'output shape':<22}{'params':>12}{'MACs':>16}"
    print(header, file=file)
    print("-" * len(header), file=file)
    for row in rows:
        label = f"{row['name']} ({row['type']})"
        shape = "[" + ", ".join(str(s) for s in row["output_shape"][1:]) + "]"
        print(f"{label:<{width}}{shape:<22}{row['params']:>12,}{row['macs']:>16,}", file=file)
    print("-" * len(header), file=file)
    print(f"total parameters: {total_params:,}; total MACs: {sum(r['macs'] for r in rows):,}", file=file)
