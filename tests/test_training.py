"""fit/evaluate: exact resume, the NaN guard, atomic checkpoints, Ctrl-C, the epoch line and plot."""
import math
import os
import re
import runpy
import subprocess
import sys

import numpy
import pytest

import minicnn
from minicnn import data, models, nn, optim, serialization, training

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def tiny_loaders(count=96, seed=0):
    rng = numpy.random.default_rng(seed)
    labels = rng.integers(0, 3, count)
    images = (rng.random((count, 1, 8, 8)) * 80 + labels[:, None, None, None] * 60).astype(numpy.uint8)
    train = data.ArrayDataset(images, labels)
    test = data.ArrayDataset(images[:32], labels[:32])
    return (data.DataLoader(train, batch_size=16, shuffle=True, seed=seed),
            data.DataLoader(test, batch_size=16))


def tiny_model(seed=0):
    minicnn.random.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.2), nn.Linear(64, 3))


def weights(model):
    return [p.numpy() for p in model.parameters()]


def train(epochs, out_dir, resume=False, model=None, lr=0.1, schedule=None):
    """Train the tiny model; ``schedule`` (or None) builds a scheduler from the optimiser, stepped per batch."""
    model = model or tiny_model()
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    train_loader, test_loader = tiny_loaders()
    scheduler = schedule(optimizer) if schedule else None
    history = training.fit(model, train_loader, test_loader, optimizer, epochs, out_dir=str(out_dir),
                           resume=resume, progress=False, log=lambda line: None,
                           scheduler=scheduler, scheduler_step="batch")
    return model, history


def train_interrupted(monkeypatch, at_step, out_dir, **options):
    """Two epochs of ``train`` with Ctrl-C pressed during training step number ``at_step``."""
    real_step, calls = training._train_step, {"n": 0}

    def interrupt(*args):
        calls["n"] += 1
        if calls["n"] == at_step:
            raise KeyboardInterrupt
        return real_step(*args)

    monkeypatch.setattr(training, "_train_step", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(2, out_dir, **options)
    monkeypatch.setattr(training, "_train_step", real_step)


def test_resume_gives_identical_weights(tmp_path):
    straight, history = train(2, tmp_path / "straight")
    train(1, tmp_path / "split")
    resumed, resumed_history = train(2, tmp_path / "split", resume=True, model=tiny_model(seed=99))
    for a, b in zip(weights(straight), weights(resumed)):
        numpy.testing.assert_array_equal(a, b)
    assert resumed_history["loss"] == pytest.approx(history["loss"], rel=0, abs=0)


def test_interrupted_mid_epoch_resumes_exactly(tmp_path, monkeypatch):
    straight, _ = train(2, tmp_path / "straight")
    train_interrupted(monkeypatch, 8, tmp_path / "split")
    progress = serialization.load(str(tmp_path / "split" / "checkpoint.npz"))["progress"]
    assert (progress["epoch"], progress["step"]) == (1, 1)  # 6 steps per epoch: interrupted in epoch 2
    resumed, _ = train(2, tmp_path / "split", resume=True, model=tiny_model(seed=5))
    for a, b in zip(weights(straight), weights(resumed)):
        numpy.testing.assert_array_equal(a, b)


def cosine_over_two_epochs(optimizer):
    return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=12)  # 6 batches an epoch


def test_a_batch_scheduler_steps_after_every_batch(tmp_path):
    model = tiny_model()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    train_loader, test_loader = tiny_loaders()
    for step_every, lr_after_one_epoch in (("batch", 0.1 * (1 + math.cos(math.pi * 6 / 12)) / 2),
                                           ("epoch", 0.1 * (1 + math.cos(math.pi * 1 / 12)) / 2)):
        optimizer.param_groups[0].pop("initial_lr", None)
        optimizer.param_groups[0]["lr"] = 0.1
        scheduler = cosine_over_two_epochs(optimizer)
        training.fit(model, train_loader, test_loader, optimizer, 1, scheduler=scheduler,
                     scheduler_step=step_every, progress=False, log=lambda line: None)
        assert optimizer.param_groups[0]["lr"] == pytest.approx(lr_after_one_epoch, rel=1e-12), step_every


def test_scheduler_step_must_be_epoch_or_batch():
    train_loader, test_loader = tiny_loaders()
    model = tiny_model()
    with pytest.raises(ValueError, match="scheduler_step must be 'epoch' or 'batch', got 'step'"):
        training.fit(model, train_loader, test_loader, optim.SGD(model.parameters(), lr=0.1), 1,
                     scheduler_step="step", progress=False)


def test_interrupted_run_with_a_batch_schedule_resumes_exactly(tmp_path, monkeypatch):
    straight, _ = train(2, tmp_path / "straight", schedule=cosine_over_two_epochs)
    train_interrupted(monkeypatch, 9, tmp_path / "split", schedule=cosine_over_two_epochs)
    resumed, _ = train(2, tmp_path / "split", resume=True, model=tiny_model(seed=5), schedule=cosine_over_two_epochs)
    for a, b in zip(weights(straight), weights(resumed)):
        numpy.testing.assert_array_equal(a, b)


def test_nan_loss_stops_with_clear_message_and_keeps_last_good_checkpoint(tmp_path):
    model, _ = train(1, tmp_path)
    good = serialization.load(str(tmp_path / "checkpoint.npz"))
    # a NaN learning rate poisons the weights in step 1, so step 2's loss is NaN
    with pytest.raises(training.TrainingDiverged, match=r"loss became nan at epoch 1, step 2.*learning rate"):
        train(3, tmp_path, model=model, lr=float("nan"))
    kept = serialization.load(str(tmp_path / "checkpoint.npz"))
    assert kept["progress"]["epoch"] == 1
    for key, value in good["model"].items():
        numpy.testing.assert_array_equal(kept["model"][key], value)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    train(1, tmp_path)
    path = tmp_path / "checkpoint.npz"
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(numpy.lib.format, "write_array", crash)
    with pytest.raises(OSError, match="disk full"):
        train(2, tmp_path, resume=True)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "history.png"]


def test_resume_without_checkpoint_explains(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(1, tmp_path / "nothing", resume=True)


def test_epoch_line_history_and_plot(tmp_path):
    lines = []
    model = tiny_model()
    train_loader, test_loader = tiny_loaders()
    history = training.fit(model, train_loader, test_loader, optim.SGD(model.parameters(), lr=0.1), 2,
                           out_dir=str(tmp_path), progress=False, log=lines.append)
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1: loss ") and "train acc" in lines[0]
    assert lines[0].endswith("examples/sec on numpy")
    assert set(history) == set(training.HISTORY_KEYS) and len(history["loss"]) == 2
    assert (tmp_path / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_counts_correct_predictions_in_eval_mode():
    class Oracle(nn.Module):
        """Predicts class 1 in eval mode and class 0 in training mode."""

        def forward(self, x):
            xp = minicnn.backend.get_array_module(x.data)
            logits = xp.zeros((x.shape[0], 3), dtype=x.dtype)
            logits[:, 0 if self.training else 1] = 1
            return minicnn.Tensor(logits)

    labels = numpy.array([1, 1, 0, 2, 1, 1, 0, 1])
    loader = data.DataLoader(data.ArrayDataset(numpy.zeros((8, 1, 2, 2), numpy.uint8), labels), batch_size=3)
    model = Oracle()
    assert training.evaluate(model, loader) == pytest.approx(5 / 8)
    assert model.training  # restored afterwards


def test_lenet_example_with_cupy_on_cpu_machine_gives_one_clear_message(tmp_path):
    blocker = tmp_path / "cupy"  # hides CuPy (real or stand-in) from the example's process
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError(\"No module named 'cupy'\")\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "train_lenet.py", "--backend", "cupy", "--epochs", "1"],
                            cwd=EXAMPLES, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "cupy" in result.stderr and "pip install cupy" in result.stderr


def test_summary_lists_lenet_shapes_and_counts():
    rows = minicnn.summary(models.lenet(), (1, 28, 28), file=None)
    shapes = [row["output_shape"][1:] for row in rows]
    assert shapes[0] == (6, 28, 28) and shapes[2] == (6, 14, 14)
    assert shapes[3] == (16, 10, 10) and shapes[5] == (16, 5, 5) and shapes[6] == (400,)
    assert shapes[-1] == (10,)
    assert sum(row["params"] for row in rows) == 61706
    # conv1: 6 output maps of 28x28, each pixel a 5x5x1 dot product
    assert rows[0]["macs"] == 6 * 28 * 28 * 25


# ---------------------------------------------------------------- the examples' command line (issue 19)

@pytest.fixture
def common(monkeypatch):
    """examples/common.py, imported as the example scripts import it."""
    monkeypatch.syspath_prepend(EXAMPLES)
    import common
    return common


@pytest.mark.parametrize("flags, named", [
    (["--epochs", "0"], "--epochs"), (["--train-subset", "0"], "--train-subset"),
    (["--test-subset", "0"], "--test-subset"), (["--batch-size", "0"], "--batch-size"),
    (["--resize", "-1"], "--resize"), (["--profile", "0"], "--profile"),
])
def test_values_that_leave_nothing_to_do_are_refused_when_parsing(common, flags, named, capsys):
    with pytest.raises(SystemExit) as stop:
        common.parser("lenet").parse_args(flags)
    assert stop.value.code == 2
    assert f"argument {named}: must be" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--epochs", "--batch-size", "--image-size", "--train-images", "--test-images"])
def test_the_fcn_script_refuses_zero_too(common, flag, capsys, monkeypatch):
    import train_fcn  # beside common.py, which it imports as the other scripts do
    monkeypatch.setattr(sys, "argv", ["train_fcn.py", flag, "0"])
    with pytest.raises(SystemExit) as stop:
        train_fcn.parse_args()
    assert stop.value.code == 2
    assert f"argument {flag}: must be" in capsys.readouterr().err


def test_help_shows_the_defaults(common):
    help_text = common.parser("alexnet", epochs=10, batch_size=128, lr=0.01, resize=224).format_help()
    text = " ".join(help_text.split("options:")[1].split())
    for flag, default in (("--epochs", 10), ("--batch-size", 128), ("--lr", 0.01), ("--resize", 224), ("--seed", 0)):
        after_flag = text[text.index(f"{flag} {flag.lstrip('-').replace('-', '_').upper()}"):]
        assert f"(default: {default})" in after_flag[:after_flag.index(" --", 2)], flag


def test_a_recipe_swaps_in_its_defaults_and_explicit_flags_still_win(common):
    cli = common.parser("net", epochs=10, lr=0.1, resize=224, cpu=dict(epochs=3, lr=0.5, resize=64))
    assert (lambda a: (a.epochs, a.lr, a.resize))(cli.parse_args([])) == (10, 0.1, 224)
    cli = common.parser("net", epochs=10, lr=0.1, resize=224, cpu=dict(epochs=3, lr=0.5, resize=64))
    assert (lambda a: (a.epochs, a.lr, a.resize))(cli.parse_args(["--recipe", "cpu"])) == (3, 0.5, 64)
    cli = common.parser("net", epochs=10, lr=0.1, resize=224, cpu=dict(epochs=3, lr=0.5, resize=64))
    assert (lambda a: (a.epochs, a.lr))(cli.parse_args(["--lr", "0.2", "--recipe", "cpu"])) == (3, 0.2)


def test_a_network_without_a_cpu_recipe_refuses_one(common, capsys):
    with pytest.raises(SystemExit):
        common.parser("lenet").parse_args(["--recipe", "cpu"])
    assert "invalid choice: 'cpu'" in capsys.readouterr().err


def test_warm_up_then_cosine_batch_by_batch(common):
    """lr/10 rising linearly over the warm-up's batches to lr, then a cosine reaching 0 at the last batch."""
    model = tiny_model()
    optimizer = optim.SGD(model.parameters(), lr=0.4)
    args = common.parser("net").parse_args(["--warmup", "1", "--schedule", "cosine", "--epochs", "3"])
    scheduler = common.schedule(optimizer, args, steps_per_epoch=4)
    seen = [optimizer.param_groups[0]["lr"]]
    for _ in range(12):
        scheduler.step()
        seen.append(optimizer.param_groups[0]["lr"])
    warm = [0.4 * (0.1 + 0.9 * i / 4) for i in range(4)]
    cosine = [0.4 * (1 + math.cos(math.pi * j / 8)) / 2 for j in range(9)]
    numpy.testing.assert_allclose(seen, warm + cosine, rtol=1e-12, atol=1e-15)


def test_no_warm_up_and_a_constant_rate_need_no_scheduler(common):
    optimizer = optim.SGD(tiny_model().parameters(), lr=0.4)
    assert common.schedule(optimizer, common.parser("net").parse_args([]), steps_per_epoch=4) is None


def test_he_initialisation_keeps_relu_variance(common):
    """He et al. (2015): std sqrt(2 / fan_in) for every Conv2d and Linear weight, zero biases."""
    minicnn.random.manual_seed(0)
    model = common.initialise(nn.Sequential(nn.Conv2d(8, 64, 5), nn.Flatten(), nn.Linear(2000, 300)), "kaiming")
    conv, linear = model[0], model[2]
    assert conv.weight.numpy().std() == pytest.approx((2 / (8 * 25)) ** 0.5, rel=0.03)
    assert linear.weight.numpy().std() == pytest.approx((2 / 2000) ** 0.5, rel=0.03)
    assert not conv.bias.numpy().any() and not linear.bias.numpy().any()


def test_centred_biases_give_every_convolution_a_zero_mean_output_and_no_dead_unit(common):
    minicnn.random.manual_seed(0)
    model = common.initialise(models.nin(width=1 / 8), "kaiming")
    images = numpy.random.default_rng(0).random((64, 1, 67, 67), dtype=numpy.float32)
    common.centre_biases(model, images)
    assert model.training
    outputs = {}
    for conv in (m for m in model.modules() if isinstance(m, nn.Conv2d)):
        conv.forward = lambda x, conv=conv, compute=conv.forward: outputs.setdefault(conv, compute(x))
    with minicnn.no_grad():
        model.eval()
        model(minicnn.Tensor(images))
    assert len(outputs) == 12  # four NiN blocks of three convolutions
    *hidden, last = outputs.values()
    for output in hidden:
        values = output.numpy()
        numpy.testing.assert_allclose(values.mean(axis=(0, 2, 3)), 0, atol=1e-5)
        assert (values.max(axis=(0, 2, 3)) > 0).all(), "a channel is negative for every image"
    means = last.numpy().mean(axis=(0, 2, 3))
    assert last.numpy().min() == pytest.approx(1.0, abs=1e-5)  # raised until every class score is at least 1
    numpy.testing.assert_allclose(means - means[0], 0, atol=1e-5)  # by one constant: the class scores stay centred together


@pytest.mark.parametrize("build, largest, expected", [
    # conv 11×11/4 then three 3×3/2 max-pools: the map after the conv must be 15 wide, (s - 9) // 4 + 1 >= 15
    (lambda side: models.alexnet(width=1 / 32, image_size=side), 224, 65),
    (lambda side: models.nin(width=1 / 32), 224, 67),  # the same chain with no padding: (s - 11) // 4 + 1 >= 15
    (lambda side: models.vgg(((1, 2),) * 5, hidden=4, image_size=side), 224, 32),  # five 2×2 max-pools
    # stem (/2, /2 rounding up) then three 2×2 average pools: 15 after the stem's conv, 29 before it
    (lambda side: models.densenet(num_channels=4, growth_rate=2, arch=(1, 1, 1, 1)), 96, 29),
    (lambda side: models.lenet(), 28, 28),  # its dense head is built for 28×28 (28–31 pass)
    (lambda side: models.resnet(((1, 4), (1, 4), (1, 4), (1, 4))), 96, 1),  # padded: any size
])
def test_smallest_side_a_network_takes(common, build, largest, expected):
    assert common.smallest_side(build, largest) == expected


def test_too_small_an_image_names_the_smallest_size_that_works(common):
    with pytest.raises(common.ImageSizeError, match=r"nin cannot train on 28×28 images \(max_pool2d.*"
                                                    r"the smallest size it takes is 67: use --resize 67"):
        common.build_for_side("nin", lambda side: models.nin(width=1 / 32), 28, 224)


def _example_docstring_commands():
    """(script, flags) for every ``--flag ...`` span in an example's docstring: each is a command to try."""
    found = []
    for script in sorted(os.listdir(EXAMPLES)):
        if script.startswith("train_") and script != "train_fcn.py":
            with open(os.path.join(EXAMPLES, script)) as f:
                doc = f.read().split('"""')[1]
            found += [(script, span.split()) for span in re.findall(r"``(--[^`]*)``", doc)]
    return found


@pytest.mark.parametrize("script, flags", _example_docstring_commands())
def test_commands_suggested_in_example_docstrings_work(common, monkeypatch, script, flags):
    """Each suggested flag set parses and builds a network that takes the images it implies."""
    built = []

    def build_only(name, build_model, args, loss_fn=None):
        built.append(common.build_for_side(name, build_model, args.resize or 28, args.default_side))
        return built[-1], None  # as run() returns after --profile: a model, no history

    monkeypatch.setattr(common, "run", build_only)
    monkeypatch.setattr(sys, "argv", [script] + flags)
    runpy.run_path(os.path.join(EXAMPLES, script), run_name="__main__")
    assert len(built) == 1


def test_example_with_too_small_images_says_which_size_works():
    result = subprocess.run([sys.executable, "train_nin.py", "--resize", "0"],
                            cwd=EXAMPLES, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]  # after any note on compiling the kernels
    assert last_line.startswith("error: nin cannot train on 28×28 images") and last_line.endswith("use --resize 67")


def _run_example(common, monkeypatch, tmp_path, *flags):
    """common.run on a tiny network and tiny data with these flags; returns the SystemExit's message."""
    monkeypatch.setattr(common, "load_fashion_mnist", lambda args: tiny_loaders())
    args = common.parser("tiny").parse_args(["--out", str(tmp_path), "--no-progress", "--resize", "8", *flags])
    with pytest.raises(SystemExit) as stop:
        common.run("tiny", lambda side: tiny_model(), args)
    return str(stop.value.code)


def test_a_checkpoint_of_another_network_ends_with_one_error_line(common, monkeypatch, tmp_path):
    other = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 3))
    serialization.save({"model": other.state_dict()}, str(tmp_path / "checkpoint.npz"))
    message = _run_example(common, monkeypatch, tmp_path, "--resume")
    assert message.startswith("error: resume: cannot continue from")
    assert 'Missing key(s) in state_dict: 2 key(s): "5.weight", "5.bias"' in message
    assert 'Unexpected key(s) in state_dict: 2 key(s): "3.weight", "3.bias"' in message


def test_a_damaged_checkpoint_ends_with_one_error_line(common, monkeypatch, tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"not a zip archive")
    assert _run_example(common, monkeypatch, tmp_path, "--resume").startswith("error: resume: cannot continue")


def test_resume_without_a_checkpoint_ends_with_one_error_line(common, monkeypatch, tmp_path):
    assert _run_example(common, monkeypatch, tmp_path, "--resume").startswith("error: resume: no checkpoint")


def test_a_diverging_run_ends_with_one_error_line(common, monkeypatch, tmp_path):
    assert _run_example(common, monkeypatch, tmp_path, "--lr", "nan").startswith(
        "error: training stopped: the loss became nan")


def test_no_data_is_an_error_not_a_zero_accuracy(tmp_path):
    empty = data.DataLoader(data.ArrayDataset(numpy.zeros((0, 1, 8, 8), numpy.uint8), numpy.zeros(0, int)))
    with pytest.raises(ValueError, match="no examples"):
        training.evaluate(tiny_model(), empty)
    model = tiny_model()
    with pytest.raises(ValueError, match="no batches"):
        training.fit(model, empty, None, optim.SGD(model.parameters(), lr=0.1), 1, progress=False)
