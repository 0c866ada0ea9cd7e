"""Plotting for d2l's code: ``Animator`` (d2l §3.6), ``show_images`` (§3.5), ``set_figsize`` (§2.4).

Unlike the book's, the Animator also works outside a notebook: in a plain script it saves
the figure as a PNG and prints where.
"""
import time

import numpy


def pyplot():
    """matplotlib.pyplot, imported on first use (``d2l.plt``)."""
    import matplotlib.pyplot
    return matplotlib.pyplot


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


def use_svg_display():
    """Draw notebook figures as SVG (d2l §2.4); nothing to do in a script."""
    if _in_notebook():
        from matplotlib_inline import backend_inline
        backend_inline.set_matplotlib_formats("svg")


def set_figsize(figsize=(3.5, 2.5)):
    """The default size of new matplotlib figures, in inches (d2l §2.4)."""
    pyplot().rcParams["figure.figsize"] = figsize


def show_images(imgs, num_rows, num_cols, titles=None, scale=1.5):
    """A grid of images (Tensors H×W[×C] or arrays) with optional titles (d2l §3.5); returns the axes."""
    _, axes = pyplot().subplots(num_rows, num_cols, figsize=(num_cols * scale, num_rows * scale))
    axes = numpy.asarray(axes).reshape(-1)
    for i, (ax, img) in enumerate(zip(axes, imgs)):
        ax.imshow(numpy.asarray(img))
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles:
            ax.set_title(titles[i])
    return axes


class Animator:
    """Curves that grow while a model trains (d2l §3.6): ``add(x, ys)`` appends one point per curve.

    In a notebook the figure is redrawn in place. In a plain script it is saved as a PNG —
    at most once a second, and always when ``x`` reaches the end of ``xlim`` — and the path
    is printed the first time. ``path`` defaults to ``animator.png`` in the current folder
    (``animator-2.png`` for a second Animator of the same run, and so on).
    """

    count = 0

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None, xscale="linear",
                 yscale="linear", fmts=("-", "m--", "g-.", "r:"), nrows=1, ncols=1, figsize=(3.5, 2.5), path=None):
        from matplotlib.figure import Figure
        Animator.count += 1
        self.path = path or ("animator.png" if Animator.count == 1 else f"animator-{Animator.count}.png")
        self.fig = Figure(figsize=figsize)
        axes = self.fig.subplots(nrows, ncols, squeeze=False).reshape(-1)
        self.axes, self.fmts = axes, fmts
        self.settings = dict(xlabel=xlabel, ylabel=ylabel, xlim=xlim, ylim=ylim, xscale=xscale, yscale=yscale)
        self.legend = legend or []
        self.X, self.Y = None, None
        self.notebook, self.saved_at, self.announced = _in_notebook(), 0.0, False

    def add(self, x, y):
        """Append the point (x, y_i) to curve i for each y_i that is not None, and redraw."""
        ys = list(y) if hasattr(y, "__len__") else [y]
        xs = list(x) if hasattr(x, "__len__") else [x] * len(ys)
        if self.X is None:
            self.X, self.Y = [[] for _ in ys], [[] for _ in ys]
        for i, (a, b) in enumerate(zip(xs, ys)):
            if a is not None and b is not None:
                self.X[i].append(float(a))
                self.Y[i].append(float(b))
        self._draw()
        last = self.settings["xlim"] is not None and max(xs) >= self.settings["xlim"][1]
        self._show(force=last)

    def _draw(self):
        ax = self.axes[0]
        ax.cla()
        for xs, ys, fmt in zip(self.X, self.Y, self.fmts):
            ax.plot(xs, ys, fmt)
        settings = self.settings
        ax.set_xlabel(settings["xlabel"])
        ax.set_ylabel(settings["ylabel"])
        ax.set_xscale(settings["xscale"])
        ax.set_yscale(settings["yscale"])
        if settings["xlim"] and settings["xlim"][0] < settings["xlim"][1]:  # one epoch gives [1, 1]
            ax.set_xlim(settings["xlim"])
        if settings["ylim"]:
            ax.set_ylim(settings["ylim"])
        if self.legend:
            ax.legend(self.legend)
        ax.grid()

    def _show(self, force):
        if self.notebook:
            from IPython import display
            display.display(self.fig)
            display.clear_output(wait=True)
            return
        if force or time.perf_counter() - self.saved_at >= 1.0:
            self.fig.savefig(self.path, dpi=100, bbox_inches="tight")
            self.saved_at = time.perf_counter()
            if not self.announced:
                print(f"Animator: the plot is saved to {self.path} (updated as training runs)")
                self.announced = True
