"""The docs cannot rot: their code runs, every public name has a docstring, the site builds.

(a) Every fenced ```python block in docs/**/*.md is executed; the blocks of one page run
    in order in one namespace, in a scratch folder. A block opts out only with a visible
    marker in its fence: ```python title="not run". A fenced ```text title="output" block
    right after a python block must equal what that block printed.
    After a deliberate change, refresh them: ``python tests/test_docs.py --update docs/PAGE.md``.
    Also: the figure scripts in docs/scripts/ run, every image and every file the pages name
    exists, and every public module has an API page.
(b) Every public function, class and method of the minicnn package has a docstring.
(c) ``mkdocs build --strict`` passes (skipped where MkDocs is not installed).
"""
import contextlib
import importlib
import importlib.util
import inspect
import io
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import minicnn
import minicnn.random

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)(?P<info>.*)$")
SKIP_MARKER = 'title="not run"'
OUTPUT_MARKER = 'title="output"'


# ---------------------------------------------------------------- (a) code blocks

def fenced_blocks(text):
    """(language, info string, first line number, code) of every fenced block, in order."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, info = opening.group("indent"), opening.group("fence"), opening.group("info").strip()
        body, i = [], i + 1
        start = i + 1
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        language = info.split()[0] if info else ""
        blocks.append((language, info, start, "\n".join(body)))
        i += 1
    return blocks


def runnable_blocks(page):
    """The python blocks of ``page`` that must run, each with the output it must print (or None)."""
    blocks = fenced_blocks(page.read_text(encoding="utf-8"))
    result = []
    for index, (language, info, line, code) in enumerate(blocks):
        if language != "python" or SKIP_MARKER in info:
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        expected = following[3] if following and OUTPUT_MARKER in following[1] else None
        result.append((line, code, expected))
    return result


def pages_with_code():
    return sorted(p for p in DOCS.rglob("*.md") if runnable_blocks(p))


def _normalise(output):
    return "\n".join(line.rstrip() for line in output.strip("\n").splitlines())


@pytest.fixture
def scratch_folder(tmp_path, monkeypatch):
    """Run a page in an empty folder, on the numpy backend, with a fixed seed."""
    monkeypatch.chdir(tmp_path)
    minicnn.backend.use("numpy")
    minicnn.random.manual_seed(0)
    yield tmp_path
    minicnn.backend.use("numpy")


@pytest.mark.parametrize("page", pages_with_code(), ids=lambda p: str(p.relative_to(DOCS)))
def test_code_blocks_run(page, scratch_folder):
    for where, expected, printed in run_page(page):
        if expected is not None:
            assert _normalise(printed) == _normalise(expected), (
                f"{where}: the printed output differs from the 'output' block below it "
                f"(after a deliberate change: python tests/test_docs.py --update {page.relative_to(ROOT)});\n"
                f"--- printed ---\n{printed}\n--- documented ---\n{expected}"
            )


def run_page(page):
    """Run the python blocks of ``page`` in one namespace; yields (line, expected, printed) per block."""
    namespace = {"__name__": "__docs__"}
    for line, code, expected in runnable_blocks(page):
        where = f"{page.relative_to(ROOT)}, block at line {line}"
        captured = io.StringIO()
        try:
            with contextlib.redirect_stdout(captured):
                exec(compile(code, where, "exec"), namespace)
        except Exception as error:
            pytest.fail(f"{where} raised {type(error).__name__}: {error}\n--- code ---\n{code}")
        yield where, expected, captured.getvalue()


def update_outputs(page):
    """Rewrite the 'output' blocks of ``page`` with what its code prints now (review the diff!)."""
    text = page.read_text(encoding="utf-8")
    cursor = 0
    for _, expected, printed in run_page(page):
        if expected is None:
            continue
        old = f'```text {OUTPUT_MARKER}\n{expected}\n```'
        new = f'```text {OUTPUT_MARKER}\n{_normalise(printed)}\n```'
        start = text.index(old, cursor)
        text = text[:start] + new + text[start + len(old):]
        cursor = start + len(new)
    page.write_text(text, encoding="utf-8")


def test_fence_parser_reads_indented_blocks_and_markers():
    text = textwrap.dedent('''\
        intro
        ```python
        x = 1
        ```
        !!! note
            ```python title="not run"
            y = 2
            ```
        ```text title="output"
        1
        ```
        ''')
    blocks = fenced_blocks(text)
    assert [(b[0], b[3]) for b in blocks] == [("python", "x = 1"), ("python", "y = 2"), ("text", "1")]
    assert SKIP_MARKER in blocks[1][1]


# ---------------------------------------------------------------- figures

@pytest.mark.parametrize("script", sorted((DOCS / "scripts").glob("[!_]*.py")), ids=lambda p: p.name)
def test_figure_scripts_run(script, tmp_path):
    pytest.importorskip("matplotlib")
    result = subprocess.run([sys.executable, str(script), str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{script.name} failed:\n{result.stderr}"
    assert list(tmp_path.glob("*.png")), f"{script.name} wrote no PNG into {tmp_path}"


def test_every_image_the_docs_show_exists():
    missing = []
    for page in DOCS.rglob("*.md"):
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", page.read_text(encoding="utf-8")):
            if "://" not in target and not (page.parent / target).exists():
                missing.append(f"{page.relative_to(DOCS)}: {target}")
    assert not missing, "images referenced but missing (run the scripts in docs/scripts/):\n  " + "\n  ".join(missing)


def test_every_file_the_docs_name_exists():
    """The reading order and the pages point at files; a rename must update the guide."""
    missing = []
    for page in DOCS.rglob("*.md"):
        # a path names a file; "examples/sec" in a printed speed does not
        for path in re.findall(r"(?<![\w/.~-])((?:minicnn|examples(?!/sec\b)|tests|benchmarks|docs)/[\w/.-]*\w)", page.read_text(encoding="utf-8")):
            if not (ROOT / path).exists():
                missing.append(f"{page.relative_to(DOCS)}: {path}")
    assert not missing, "the docs name files that do not exist:\n  " + "\n  ".join(sorted(set(missing)))


# ---------------------------------------------------------------- (b) docstrings

PACKAGE = Path(minicnn.__file__).resolve().parent


def public_modules():
    """(dotted name, is a package) of every module file of minicnn with no part starting with '_'."""
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        if not any(part.startswith("_") for part in parts):
            modules.append((".".join(parts), is_package))
    return modules


def _has_doc(cls, name):
    """A method is documented if it, or the method it overrides, has a docstring."""
    for klass in cls.__mro__:
        member = klass.__dict__.get(name)
        if member is None:
            continue
        target = member if isinstance(member, property) else getattr(member, "__func__", member)
        if (getattr(target, "__doc__", None) or "").strip():
            return True
    return False


def _is_method(member):
    return inspect.isfunction(member) or isinstance(member, (staticmethod, classmethod, property))


def missing_docstrings(module):
    """Qualified names of the public functions, classes and methods defined in ``module`` without a docstring."""
    missing = []
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj) and not (obj.__doc__ or "").strip():
            missing.append(f"{module.__name__}.{name}")
        if inspect.isclass(obj):
            if not (obj.__dict__.get("__doc__") or "").strip():
                missing.append(f"{module.__name__}.{name}")
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and _is_method(member) and not _has_doc(obj, attr):
                    missing.append(f"{module.__name__}.{name}.{attr}")
    return missing


def test_every_public_name_has_a_docstring():
    missing, broken = [], []
    for name, _ in public_modules():
        try:
            module = importlib.import_module(name)
        except Exception as error:  # a module that does not import cannot be checked
            broken.append(f"{name}: {type(error).__name__}: {error}")
            continue
        if not (module.__doc__ or "").strip():
            missing.append(f"{name} (module)")
        missing += missing_docstrings(module)
    message = ""
    if broken:
        message += "modules that fail to import:\n  " + "\n  ".join(broken) + "\n"
    if missing:
        message += (f"{len(missing)} public names have no docstring (a one-line summary and the "
                    "paper / d2l section it comes from):\n  " + "\n  ".join(sorted(missing)))
    assert not message, message


def test_docstring_check_sees_inherited_method_docs():
    class Base:
        """Base."""

        def step(self):
            """Documented once, here."""

    class Child(Base):
        """Child."""

        def step(self):
            return None

    assert _has_doc(Child, "step")
    assert not _has_doc(Child, "nothing")


def test_every_public_module_has_an_api_page():
    documented = set()
    for page in (DOCS / "api").glob("*.md"):
        documented |= set(re.findall(r"^::: *([\w.]+)", page.read_text(encoding="utf-8"), re.M))
    undocumented = sorted(name for name, is_package in public_modules() if not is_package and name not in documented)
    assert not undocumented, (
        "modules missing from the API reference: add a '::: <module>' line to a page in docs/api/:\n  "
        + "\n  ".join(undocumented))


# ---------------------------------------------------------------- (c) the site builds

def test_mkdocs_build_strict(tmp_path):
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None:
        pytest.skip("MkDocs / mkdocstrings not installed (pip install -e '.[docs]')")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"


if __name__ == "__main__":
    # python tests/test_docs.py --update docs/PAGE.md ...: refresh the pages' output blocks
    if len(sys.argv) < 3 or sys.argv[1] != "--update":
        sys.exit("usage: python tests/test_docs.py --update docs/PAGE.md [...]")
    import tempfile

    pages = [Path(name).resolve() for name in sys.argv[2:]]
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        for page in pages:
            minicnn.random.manual_seed(0)
            update_outputs(page)
            print("updated", page.relative_to(ROOT))
