"""``summary(model, input_shape)``: d2l's layer-by-layer shape table, with parameters and MACs.

d2l prints each layer's output shape by running a dummy input through the network
(d2l §7.6.1, §8.1); this does the same, and adds the parameter count and the number of
multiply-accumulates of each layer.
"""
import sys

from . import backend
from .autograd import Tensor, no_grad


def _count_parameters(module):
    return sum(p.size for p in module.parameters())


def _macs(module, output_shape):
    """Multiply-accumulates of one forward pass of a conv/linear layer (0 for the rest)."""
    weight = getattr(module, "weight", None)
    if weight is None or weight.ndim not in (2, 4):
        return 0
    batch = output_shape[0]
    if weight.ndim == 2:  # Linear: one in*out product per row
        rows = 1
        for size in output_shape[:-1]:
            rows *= size
        return rows * weight.shape[0] * weight.shape[1]
    kernel = weight.shape[2] * weight.shape[3]
    if type(module).__name__ == "ConvTranspose2d":  # every input pixel meets the whole kernel
        input_pixels = module._last_input_shape
        return batch * weight.shape[0] * weight.shape[1] * kernel * input_pixels[2] * input_pixels[3]
    return batch * output_shape[1] * output_shape[2] * output_shape[3] * weight.shape[1] * kernel


def _trace(module, name, rows, depth):
    """Wrap ``module.forward`` so each call appends a row; recurse ``depth`` levels down."""
    children = list(module.named_children())
    if depth == 0 or not children:
        original = module.forward

        def traced(*inputs, **kwargs):
            module._last_input_shape = inputs[0].shape if inputs else None
            output = original(*inputs, **kwargs)
            shape = tuple(output.shape)
            rows.append({"name": name, "type": type(module).__name__, "output_shape": shape,
                         "params": _count_parameters(module), "macs": _macs(module, shape)})
            return output

        module.forward = traced
        return [module]
    traced_modules = []
    for child_name, child in children:
        full = f"{name}.{child_name}" if name else child_name
        traced_modules += _trace(child, full, rows, depth - 1)
    return traced_modules


def summary(model, input_shape, depth=1, file=sys.stdout):
    """Run a zero input of ``input_shape`` ((C, H, W) or (N, C, H, W)) through ``model``
    and print each layer's output shape, parameter count and MACs; returns the rows.

    ``depth=1`` lists the model's direct children (as d2l's loops do); larger depths
    open the blocks.
    """
    shape = tuple(input_shape)
    if len(shape) == 3:
        shape = (1,) + shape
    rows = []
    traced = _trace(model, "", rows, depth)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(Tensor(backend.xp().zeros(shape, dtype="float32")))
    finally:
        for module in traced:
            del module.forward
            module.__dict__.pop("_last_input_shape", None)
        model.train(was_training)
    _print_table(rows, _count_parameters(model), file)
    return rows


def _print_table(rows, total_params, file):
    if file is None:
        return
    header = f"{'layer':<28}{'output shape':<22}{'params':>12}{'MACs':>16}"
    print(header, file=file)
    print("-" * len(header), file=file)
    for row in rows:
        label = f"{row['name']} ({row['type']})"
        shape = "[" + ", ".join(str(s) for s in row["output_shape"][1:]) + "]"
        print(f"{label:<28}{shape:<22}{row['params']:>12,}{row['macs']:>16,}", file=file)
    print("-" * len(header), file=file)
    print(f"total parameters: {total_params:,}; total MACs: {sum(r['macs'] for r in rows):,}", file=file)
