"""d2l's own PyTorch code, chapters 6, 7 and 13.10–13.11, runs on minicnn with only its import lines swapped.

The book's text is not part of minicnn: it is read at test time from a d2l-zh checkout named by
``MINICNN_D2L_DIR`` (default ``../shared/d2l`` beside the project root). From each section the
PyTorch cells (a ```{.python .input} block whose first line is ``#@tab`` naming ``pytorch`` or
``all``) are run in order in one namespace, after these changes and no others:

- the five import lines are swapped for minicnn's (the contract of docs/d2l.md);
- ``%matplotlib inline`` is dropped and ``pretrained=True`` becomes ``pretrained=False``;
- ``num_epochs`` is set to 1 and ``batch_size`` to 2 right after the cell assigns them, and
  Fashion-MNIST is a 10-image stand-in, so every training cell runs 5 batches;
- cells that need Pascal VOC 2012 (a 2 GB download) are skipped, with the reason, when it is
  not on this machine, and so is every later cell that uses what they would have made.

Every cell whose last line is an ``==`` comparison must display all True (the book's own
checks), and every ``train_ch6`` prints d2l's two result lines.
"""
import ast
import functools
import os
import re
import shutil
from pathlib import Path

import numpy
import pytest

from minicnn import d2l
from minicnn.data import DatasetNotFoundError

ROOT = Path(__file__).resolve().parent.parent
D2L_DIR = Path(os.environ.get("MINICNN_D2L_DIR", ROOT.parent / "shared" / "d2l"))
SECTIONS = ("conv-layer", "padding-and-strides", "pooling", "channels", "lenet", "alexnet", "vgg", "nin",
            "googlenet", "batch-norm", "resnet", "densenet", "transposed-conv", "fcn")
IMPORTS = {
    "import torch": "import minicnn as torch",
    "from torch import nn": "from minicnn import nn",
    "from torch.nn import functional as F": "from minicnn.nn import functional as F",
    "import torchvision": "from minicnn import vision as torchvision",
    "from d2l import torch as d2l": "from minicnn import d2l",
}
SHORT = {"num_epochs": 1, "batch_size": 2}
CELL = re.compile(r"```\{\.python \.input[^}]*\}\n(.*?)```", re.S)


def pytorch_cells(text):
    """The source of every cell whose ``#@tab`` line names pytorch or all, in order."""
    cells = []
    for block in CELL.findall(text):
        first, _, body = block.partition("\n")
        tabs = [tab.strip() for tab in first.strip().removeprefix("#@tab").split(",")]
        if first.strip().startswith("#@tab") and ("pytorch" in tabs or "all" in tabs):
            cells.append(body)
    return cells


def swap_imports(source):
    """The five import lines swapped for minicnn's; notebook magics dropped; no pretrained download."""
    lines = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("%"):
            continue
        if stripped in IMPORTS:
            line = line[: len(line) - len(line.lstrip())] + IMPORTS[stripped]
        lines.append(line.replace("pretrained=True", "pretrained=False"))
    return "\n".join(lines) + "\n"


def shortened(tree):
    """The cell's syntax tree with ``num_epochs = 1`` / ``batch_size = 2`` after each top-level assignment of them,
    and its last expression kept in ``_displayed_`` (what a notebook would show)."""
    body = []
    for statement in tree.body:
        body.append(statement)
        if isinstance(statement, ast.Assign):
            assigned = {node.id for target in statement.targets for node in ast.walk(target)
                        if isinstance(node, ast.Name)}
            body += [ast.parse(f"{name} = {value}").body[0] for name, value in SHORT.items() if name in assigned]
    if body and isinstance(body[-1], ast.Expr):
        body[-1] = ast.Assign(targets=[ast.Name("_displayed_", ast.Store())], value=body[-1].value)
    tree.body = body
    return ast.fix_missing_locations(tree)


def names_used(tree):
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def names_made(tree):
    made = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    return made | {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def write_idx(path, array):
    """A raw IDX file: magic 0x00 0x00 0x08 ndim, big-endian sizes, uint8 values."""
    header = bytes([0, 0, 8, array.ndim]) + numpy.asarray(array.shape, dtype=">u4").tobytes()
    path.write_bytes(header + numpy.ascontiguousarray(array, dtype=numpy.uint8).tobytes())


@pytest.fixture(scope="module")
def fashion_mnist(tmp_path_factory):
    """A 10-image training set and a 2-image test set in Fashion-MNIST's file format."""
    folder = tmp_path_factory.mktemp("fashion-mnist")
    rng = numpy.random.default_rng(0)
    for split, count in (("train", 10), ("t10k", 2)):
        write_idx(folder / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (count, 28, 28)))
        write_idx(folder / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, count))
    return folder


@pytest.fixture
def book_folder(tmp_path, monkeypatch, fashion_mnist):
    """Run in a fresh folder that has ``../img/catdog.jpg``, with the small Fashion-MNIST and a file-only plot."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot
    (tmp_path / "img").mkdir()
    catdog = D2L_DIR / "catdog.jpg"
    if catdog.is_file():
        shutil.copy(catdog, tmp_path / "img" / "catdog.jpg")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setattr(d2l, "load_data_fashion_mnist",
                        functools.partial(d2l.load_data_fashion_mnist, root=fashion_mnist))
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path / "no-voc-here"))
    yield tmp_path
    matplotlib.pyplot.close("all")


def run_section(name):
    """Run the section's cells; returns (skipped cells with reasons, displayed values of ``==`` cells)."""
    path = D2L_DIR / f"{name}.md"
    if not path.is_file():
        pytest.skip(f"d2l's {name}.md is not in {D2L_DIR}: set MINICNN_D2L_DIR to a d2l-zh checkout's chapter files")
    cells = pytorch_cells(path.read_text(encoding="utf-8"))
    assert cells, f"{path} has no PyTorch cells: is it a d2l-zh chapter file?"
    namespace, unavailable, skipped, checks = {"__name__": f"d2l_{name}"}, set(), [], []
    for number, source in enumerate(cells, start=1):
        tree = ast.parse(swap_imports(source))
        if names_used(tree) & unavailable:
            skipped.append((number, f"uses {sorted(names_used(tree) & unavailable)} from a skipped cell"))
            unavailable |= names_made(tree)
            continue
        try:
            exec(compile(shortened(tree), f"<{name}.md cell {number}>", "exec"), namespace)
        except DatasetNotFoundError as error:
            skipped.append((number, f"needs Pascal VOC 2012, not on this machine: {str(error).splitlines()[0]}"))
            unavailable |= names_made(tree)
            continue
        displayed = namespace.pop("_displayed_", None)
        repr(displayed)  # what the notebook would print must print
        if isinstance(tree.body[-1], ast.Expr) and isinstance(tree.body[-1].value, ast.Compare):
            checks.append((number, displayed))
    return skipped, checks


@pytest.mark.parametrize("section", SECTIONS)
def test_section_runs(section, book_folder, capsys):
    skipped, checks = run_section(section)
    printed = capsys.readouterr().out
    for number, value in checks:
        assert bool(numpy.all(numpy.asarray(value))), f"{section} cell {number} displays {value!r}"
    runs = len(re.findall(r"train_ch6\(", (D2L_DIR / f"{section}.md").read_text(encoding="utf-8")))
    assert len(re.findall(r"^loss \d+\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}$", printed, re.M)) >= min(runs, 1)
    assert len(re.findall(r"^\d+\.\d examples/sec on cpu$", printed, re.M)) >= min(runs, 1)
    if skipped:
        assert section == "fcn", f"only the FCN section needs the network, but {section} skipped {skipped}"
        pytest.skip("; ".join(f"cell {number}: {reason}" for number, reason in skipped))


def test_cells_are_found_the_way_the_readme_says():
    text = "```{.python .input}\n#@tab mxnet\nA\n```\n```{.python .input}\n#@tab mxnet, pytorch\nB\n```\n" \
           "```{.python .input}\n#@tab all\nC\n```\n```{.python .input}\nD\n```\n"
    assert pytorch_cells(text) == ["B\n", "C\n"]


def test_only_the_import_lines_change():
    source = "%matplotlib inline\nimport torch\n    from torch import nn\nx = torch.ones(2)  # import torch\n"
    assert swap_imports(source) == "import minicnn as torch\n    from minicnn import nn\nx = torch.ones(2)  # import torch\n"


def test_training_cells_are_shortened():
    tree = shortened(ast.parse("lr, num_epochs = 0.9, 10\nbatch_size = 256\nf(num_epochs, batch_size)\n"))
    namespace = {"f": lambda *args: args}
    exec(compile(tree, "<cell>", "exec"), namespace)
    assert namespace["_displayed_"] == (1, 2) and namespace["lr"] == 0.9
