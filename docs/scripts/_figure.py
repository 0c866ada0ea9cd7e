"""What every figure script here shares: where a figure is saved, and the command line."""
import sys
from pathlib import Path

from matplotlib import pyplot

IMAGES = Path(__file__).resolve().parents[1] / "images"


def save(figure, out_dir, name):
    """Write ``figure`` as ``out_dir/name`` at 100 dpi, close it and return the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def run(main):
    """Call ``main(out_dir)`` with the folder named on the command line (default docs/images); print the path."""
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else IMAGES))
