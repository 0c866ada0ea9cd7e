"""Reverse-mode automatic differentiation: Tensor, Function and the backward walk.

A Tensor wraps an array of the active backend. Each differentiable operation is a
Function whose ``forward`` computes on raw arrays and whose ``backward`` turns the
gradient of the output into gradients of the inputs (the chain rule, one node at a
time). ``Tensor.backward`` visits the recorded graph in reverse topological order,
found with an explicit stack so that deep graphs never hit Python's recursion limit.
Idea: d2l §2.5 (automatic differentiation); design after DeZero's steps 1–33.
"""
import contextlib
import weakref

from . import backend
from .device import device_of

_grad_enabled = True


@contextlib.contextmanager
def no_grad():
    """Inside this block no graph is recorded (evaluation, optimiser updates)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled():
    """True unless inside ``no_grad()``."""
    return _grad_enabled


def _default_float(array):
    """Lists and Python numbers become float32 arrays, as torch.tensor does; arrays keep their dtype."""
    if array.dtype.kind == "f" and array.dtype.itemsize == 8:
        return array.astype("float32")
    return array


class ArraySlot:
    """``tensor.data = value`` stores the array of ``value`` (an array or a Tensor).

    Only assignment goes through here: a descriptor without ``__get__`` leaves reading
    ``tensor.data`` to the instance's own dictionary, so the hot path reads a plain
    attribute. Parameter's slot also makes the array a LiveArray (``weight.data.copy_``).
    """

    def __set__(self, tensor, value):
        tensor.__dict__["data"] = self.prepare(value.data if isinstance(value, Tensor) else value)

    def prepare(self, array):
        """The array as it is stored (subclasses may wrap it)."""
        return array


class Tensor:
    """An array plus what autograd needs: ``grad``, ``requires_grad`` and the Function that made it.

    ``data`` is the live array of its backend (NumPy or CuPy): writing into it changes the
    tensor, and assigning to it (an array or a Tensor) replaces the values. NumPy/CuPy
    arrays are used as they are (same memory, dtype kept); lists and scalars become arrays
    of the active backend (floats as float32). Tensors made by ``minicnn.tensor``,
    ``zeros``, ... and Parameters hold a ``LiveArray``, a NumPy array that also answers
    PyTorch's ``data.copy_(...)`` and ``data.data``; results computed from one are LiveArrays
    too. The PyTorch-style methods (``t.view``, ``t == u``, ``float(t)``, ...) are attached
    in ``functional/tensor_methods.py``.
    """

    __array_priority__ = 1000  # make `ndarray + Tensor` call Tensor.__radd__
    __hash__ = object.__hash__  # `==` compares elementwise, but a Tensor is still a dict key by identity
    data = ArraySlot()

    def __init__(self, data, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.data
        if not hasattr(data, "shape") or not hasattr(data, "dtype"):
            data = _default_float(backend.asarray(data))
        elif data.ndim == 0:  # NumPy reductions return scalars (numpy.float32): keep an array
            data = backend.get_array_module(data).asarray(data)
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.creator = None  # the Function that produced this tensor, if any
        self.graph_freed = False  # set once backward() has released the Function that made it

    shape = property(lambda self: self.data.shape, doc="Shape of the data array.")
    dtype = property(lambda self: self.data.dtype, doc="dtype of the data array.")
    ndim = property(lambda self: self.data.ndim, doc="Number of dimensions.")
    device = property(lambda self: device_of(self.data), doc="Where the data lives: cpu or cuda:N.")

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = repr(backend.to_numpy(self.data)).replace("\n", "\n       ")
        return f"Tensor({body}{grad})"

    def numpy(self):
        """A NumPy copy of the data (from the GPU if needed)."""
        return backend.to_numpy(self.data).copy()

    def item(self):
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a one-element tensor, got shape {self.shape}")
        return self.data.reshape(()).item()

    def detach(self):
        """A tensor sharing this data but cut from the graph (no gradient flows through it)."""
        return Tensor(self.data)

    def zero_grad(self):
        """Forget the accumulated gradient."""
        self.grad = None

    def apply_in_place(self, function, *others):
        """Make this tensor the output of ``function(self, *others)``: PyTorch's in-place ops in the graph.

        The old value lives on as a new tensor that takes over this one's place in the
        graph, so gradients still reach what it was computed from; this tensor becomes
        the Function's output (``x[0] = y`` records a SetItem this way).
        """
        if self.graph_freed:
            raise RuntimeError(_FREED_MESSAGE)
        before = Tensor(self.data, requires_grad=self.requires_grad)
        before.creator = self.creator
        if self.creator is not None:
            self.creator.output_refs = tuple(
                weakref.ref(before) if ref() is self else ref for ref in self.creator.output_refs
            )
        after = function(before, *others)
        self.data, self.requires_grad, self.creator = after.data, after.requires_grad, after.creator
        if after.creator is not None:
            after.creator.output_refs = (weakref.ref(self),)
        return self

    def backward(self, grad=None):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``grad`` is the gradient arriving from above; it may be omitted only for a
        one-element tensor (a loss), where it is 1. The graph is released afterwards.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: none of the "
                "tensors it was computed from has requires_grad=True (or it was computed "
                "inside no_grad())"
            )
        if self.graph_freed:
            raise RuntimeError(_FREED_MESSAGE)
        xp = backend.get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a one-element tensor (a loss), "
                    f"but this tensor has shape {self.shape}: reduce it first "
                    "(e.g. loss.sum() or loss.mean()) or pass grad=ones of that shape"
                )
            grad = xp.ones_like(self.data)
        else:
            grad = xp.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if tuple(grad.shape) != tuple(self.shape):
                raise ValueError(
                    f"backward(grad): grad has shape {tuple(grad.shape)} but the tensor has "
                    f"shape {self.shape}"
                )
        _run_backward(self, grad)


def _topological_order(root):
    """Functions reachable from ``root``, each after every Function that consumes its output.

    Iterative depth-first search with an explicit stack: a chain of 10,000 operations
    would overflow Python's recursion limit if this were recursive.
    """
    order, visited = [], set()
    stack = [(root.creator, False)]
    while stack:
        fn, children_done = stack.pop()
        if children_done:
            order.append(fn)
            continue
        if fn is None or id(fn) in visited:
            continue
        visited.add(id(fn))
        stack.append((fn, True))
        for tensor in fn.inputs:
            if tensor is not None and tensor.creator is not None:
                stack.append((tensor.creator, False))
    order.reverse()  # consumers first
    return order


_FREED_MESSAGE = (
    "backward() reached a tensor whose graph was already released by an earlier backward(): "
    "compute the forward pass again, or detach() the tensor you want to reuse"
)


def _run_backward(root, grad):
    """Walk the graph from ``root`` in reverse topological order, applying the chain rule."""
    if root.creator is None:  # backward() on a leaf: d(leaf)/d(leaf) = 1
        _accumulate(root, grad)
        return
    pending = {id(root.creator): grad}  # gradient waiting at each Function's output
    for fn in _topological_order(root):
        grad_output = pending.pop(id(fn), None)
        if grad_output is not None:
            _propagate(fn, grad_output, pending)
        fn.release()


def _propagate(fn, grad_output, pending):
    """Run one Function's backward and hand each input its share of the gradient."""
    input_grads = fn.backward(grad_output)
    if not isinstance(input_grads, tuple):
        input_grads = (input_grads,)
    if len(input_grads) != len(fn.inputs):
        raise RuntimeError(
            f"{type(fn).__name__}.backward returned {len(input_grads)} gradients for "
            f"{len(fn.inputs)} inputs: return one per input (None where there is none)"
        )
    for index, (tensor, g) in enumerate(zip(fn.inputs, input_grads)):
        if tensor is None or g is None or not tensor.requires_grad:
            continue
        if tuple(g.shape) != tuple(tensor.shape):
            raise RuntimeError(
                f"{type(fn).__name__}.backward returned a gradient of shape {tuple(g.shape)} "
                f"for input {index} of shape {tuple(tensor.shape)}"
            )
        if tensor.creator is None:  # a leaf: accumulate into .grad
            _accumulate(tensor, g)
        else:  # a tensor used twice (a diamond) sums the gradients of both uses
            key = id(tensor.creator)
            pending[key] = g if key not in pending else pending[key] + g


def _accumulate(leaf, g):
    """Add ``g`` into ``leaf.grad``; the first gradient is copied so that no two leaves share one array."""
    if leaf.graph_freed:
        raise RuntimeError(_FREED_MESSAGE)
    xp = backend.get_array_module(g)
    leaf.grad = xp.array(g) if leaf.grad is None else xp.asarray(leaf.grad + g)


def as_tensor(value, like=None):
    """``value`` as a Tensor; Python numbers take the dtype of ``like`` so float32 stays float32."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float)) and like is not None:
        xp = backend.get_array_module(like.data)
        floating = like.dtype.kind == "f"  # 0.5 next to an integer tensor must not become 0
        dtype = like.dtype if floating or isinstance(value, int) else "float32"
        return Tensor(xp.asarray(value, dtype=dtype))
    return Tensor(value)


class Function:
    """One differentiable operation: ``forward`` on arrays, ``backward`` on gradients.

    Subclasses implement ``forward(*arrays)`` returning an array and
    ``backward(grad_output)`` returning one gradient per input (or None where an input
    needs none). ``self.save_for_backward(...)`` keeps what backward needs;
    ``self.needs_input_grad[i]`` says whether input i wants a gradient, so an expensive
    gradient can be skipped. ``backward`` must not write into ``grad_output``: the same
    array may also be the gradient of another tensor. Non-tensor settings (stride, axis,
    ...) go to ``__init__``.
    Call an instance on tensors: ``Mul()(a, b)``.
    """

    inputs = ()
    needs_input_grad = ()
    saved = ()

    def __call__(self, *inputs):
        tensors = [None if x is None else as_tensor(x, like=_first_tensor(inputs)) for x in inputs]
        arrays = [None if t is None else t.data for t in tensors]
        backend.get_array_module(*arrays)  # raises a clear error on a numpy/cupy mix
        self.needs_input_grad = tuple(t is not None and t.requires_grad for t in tensors)
        track = _grad_enabled and any(self.needs_input_grad)
        output = Tensor(self.forward(*arrays), requires_grad=track)
        if track:
            self.inputs = tuple(tensors)
            self.output_refs = (weakref.ref(output),)
            output.creator = self
        else:
            self.saved = ()
        return output

    def save_for_backward(self, *arrays):
        """Keep arrays for backward (released once backward has run)."""
        self.saved = arrays

    def release(self):
        """Drop references to inputs and saved arrays so their memory can be freed."""
        for ref in self.output_refs:
            out = ref()
            if out is not None:
                out.creator = None
                out.graph_freed = True
        self.inputs = ()
        self.saved = ()

    def forward(self, *arrays):
        """Compute the output array from the input arrays (subclasses implement this)."""
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, grad_output):
        """Turn dL/d(output) into one dL/d(input) per input, None where not needed (subclasses implement this)."""
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    def __repr__(self):
        return f"<{type(self).__name__}>"


def _first_tensor(values):
    for value in values:
        if isinstance(value, Tensor):
            return value
    return None
