"""minicnn.profile: a table of time per op type whose rows never add up to more than the block."""
import numpy as np
import pytest

import minicnn.functional as F
from minicnn import data, kernels, nn, optim, training
from minicnn.functional.conv import Conv2d as Conv2dFunction
from minicnn.profile import OVERHEAD, profile


def small_conv_net():
    return nn.Sequential(
        nn.Conv2d(1, 4, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, kernel_size=3), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(8 * 2 * 2, 10))


@pytest.fixture
def profiled_steps(rng):
    """Two training steps of a small conv net, the DataLoader loop started inside the block."""
    images = rng.integers(0, 256, size=(16, 1, 12, 12), dtype=np.uint8)
    loader = data.DataLoader(data.ArrayDataset(images, rng.integers(0, 10, size=16)), batch_size=8)
    model = small_conv_net()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with profile() as prof:
        for x, y in loader:
            training._train_step(model, x, y, optimizer, F.cross_entropy)
    return prof


def test_rows_add_up_to_at_most_the_wall_time(profiled_steps):
    rows = profiled_steps.by_type()
    assert rows[-1][0] == OVERHEAD
    measured = sum(seconds for _, seconds, _ in rows[:-1])
    assert 0 < measured <= profiled_steps.total
    assert sum(seconds for _, seconds, _ in rows) == pytest.approx(profiled_steps.total)
    assert all(seconds >= 0 for _, seconds, _ in rows)


def test_table_names_the_convolution_kernels(profiled_steps):
    table = profiled_steps.table(steps=2)
    for op_type in ("conv forward", "conv weight grad", "conv input grad", "pooling",
                    "activations", "linear", "loss", "optimizer", "data loading", OVERHEAD):
        assert op_type in table
    names = {name for _, name, _, _ in profiled_steps.by_name()}
    assert {"kernels.conv2d", "kernels.conv2d_weight", "kernels.conv_transpose2d",
            "Conv2d.forward", "Conv2d.backward", "SGD.step"} <= names


def test_call_counts_follow_the_network(profiled_steps):
    calls = {name: count for _, name, _, count in profiled_steps.by_name()}
    assert calls["kernels.conv2d"] == 4  # two conv layers, two steps
    assert calls["kernels.conv2d_weight"] == 4
    assert calls["kernels.conv_transpose2d"] == 2  # the first layer's input needs no gradient
    assert calls["SGD.step"] == 2
    assert calls["DataLoader next batch"] == 3  # two batches and the end of the loop


def test_self_time_leaves_out_the_kernels_a_function_calls():
    prof = profile_of(lambda: F.conv2d(np.ones((2, 3, 9, 9), np.float32),
                                       np.ones((5, 3, 3, 3), np.float32)))
    seconds = {name: s for _, name, s, _ in prof.by_name()}
    assert seconds["Conv2d.forward"] + seconds["kernels.conv2d"] <= prof.total


def profile_of(fn):
    with profile() as prof:
        fn()
    return prof


def test_everything_is_put_back_when_the_block_ends():
    before = (kernels.conv2d, Conv2dFunction.forward, optim.SGD.step, data.DataLoader.__iter__)
    with pytest.raises(RuntimeError):
        with profile():
            assert kernels.conv2d is not before[0]
            raise RuntimeError("stop")
    after = (kernels.conv2d, Conv2dFunction.forward, optim.SGD.step, data.DataLoader.__iter__)
    assert after == before


def test_print_gives_milliseconds_per_step(profiled_steps, capsys):
    profiled_steps.print(steps=2, detail=True)
    out = capsys.readouterr().out
    assert "ms/step (2)" in out and "kernels.conv2d" in out and "total" in out


def test_every_label_fits_its_column(profiled_steps):
    for detail in (False, True):
        header, *rows = profiled_steps.table(steps=2, detail=detail).splitlines()
        width = len(header) - len(" ms/step (2)      %   calls")  # the label column, then three numbers
        labels = {name for name, _, _ in profiled_steps.by_type()}
        labels |= {name for _, name, _, _ in profiled_steps.by_name()} | {"total (wall time of the block)"}
        for row in rows:
            assert row[:width].rstrip() in labels and row[width] == " ", row
