"""The CI script: it runs the README's test command exactly, and a missing PyTorch (the parity oracle) fails it."""
import configparser
import os
import re

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def _bash_blocks(text):
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def _commands(script):
    return [line for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_ci_ends_with_the_readmes_test_command():
    readme_test_command = next(block for block in _bash_blocks(_read("README.md")) if "pytest" in block)
    assert _commands(_read(".ci/run"))[-1] == readme_test_command


def test_ci_fails_when_pytorch_cannot_be_installed_or_imported():
    commands = _commands(_read(".ci/run"))
    assert "set -euo pipefail" in commands
    install = [i for i, line in enumerate(commands) if re.search(r"pip install .*\btorch==", line)]
    assert len(install) == 1 and "||" not in commands[install[0]]  # no fallback that turns the failure into skips
    assert any("import torch" in line and "||" not in line for line in commands[install[0] + 1:-1])


def test_readme_gives_the_same_pytorch_version_as_ci():
    readme_install = next(block for block in _bash_blocks(_read("README.md")) if "torch==" in block)
    assert readme_install.startswith("pip install torch==")
    pin = re.search(r"torch==[\w.+]+", readme_install).group()
    assert any(re.search(r"pip install .*" + re.escape(pin) + r"(\s|$)", line) for line in _commands(_read(".ci/run")))


def test_pytorch_is_no_dependency_of_minicnn():
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    options = config["options"]["install_requires"] + "".join(config["options.extras_require"].values())
    assert "torch" not in options
