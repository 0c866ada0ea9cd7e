"""minicnn.d2l: the book's helpers, each on small data (the chapters themselves run in test_d2l_book.py)."""
import re

import numpy
import pytest

import minicnn
import minicnn.functional as F
from minicnn import d2l, gradcheck, nn
from minicnn.data import DatasetNotFoundError
from test_d2l_book import write_idx
from test_segmentation_data import _example, _write_voc


@pytest.fixture
def fashion(tmp_path):
    rng = numpy.random.default_rng(1)
    for split, count in (("train", 12), ("t10k", 6)):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (count, 28, 28)))
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, count))
    return tmp_path


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_accumulator_and_timer():
    metric = d2l.Accumulator(2)
    metric.add(minicnn.tensor(1.5), 2)
    metric.add(0.5, minicnn.tensor([3]))
    assert metric[0] == 2.0 and metric[1] == 5.0
    metric.reset()
    assert metric.data == [0.0, 0.0]
    timer = d2l.Timer()
    timer.stop()
    timer.start()
    timer.stop()
    assert len(timer.times) == 2 and timer.sum() == pytest.approx(sum(timer.times))
    assert timer.cumsum()[-1] == pytest.approx(timer.sum()) and timer.avg() == pytest.approx(timer.sum() / 2)


def test_accuracy_counts_right_predictions_for_classes_and_pixels():
    logits = minicnn.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert d2l.accuracy(logits, minicnn.tensor([1, 1, 1])) == 2.0
    maps = minicnn.zeros((1, 3, 2, 2))
    maps[0, 2] = 1.0
    assert d2l.accuracy(maps, minicnn.tensor([[[2, 2], [0, 2]]])) == 3.0


def test_corr2d_is_cross_correlation_and_differentiable():
    rng = numpy.random.default_rng(0)
    X = minicnn.Tensor(rng.standard_normal((5, 6)), requires_grad=True)
    K = minicnn.Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    expected = F.conv2d(X.reshape(1, 1, 5, 6), K.reshape(1, 1, 2, 3)).reshape(4, 4)
    numpy.testing.assert_allclose(d2l.corr2d(X, K).numpy(), expected.numpy(), rtol=1e-12)
    assert gradcheck(lambda x, k: d2l.corr2d(x, k), [X, K])


def test_devices_are_the_cpu_on_the_numpy_backend():
    if minicnn.backend.current() == "numpy":
        assert d2l.try_gpu() == "cpu" and d2l.try_all_gpus() == ["cpu"] and d2l.num_gpus() == 0
    assert d2l.try_gpu(10**6) == "cpu"


def test_animator_saves_a_png_in_a_script_and_says_where(in_tmp, capsys):
    animator = d2l.Animator(xlabel="epoch", xlim=[1, 3], legend=["a", "b"], path="curves.png")
    animator.add(1, (0.5, None))
    animator.add(2, (0.4, 0.1))
    animator.add(3, (0.3, 0.2))  # the end of xlim: always saved
    printed = capsys.readouterr().out
    assert printed.count("curves.png") == 1
    assert (in_tmp / "curves.png").stat().st_size > 0
    assert animator.Y == [[0.5, 0.4, 0.3], [0.1, 0.2]]


def test_fashion_mnist_batches_are_tensors(fashion):
    train, test = d2l.load_data_fashion_mnist(4, resize=8, root=fashion)
    X, y = next(iter(train))
    assert isinstance(X, minicnn.Tensor) and X.shape == (4, 1, 8, 8) and X.dtype == numpy.float32
    assert y.dtype == numpy.int64 and len(train) == 3 and len(test) == 2


def test_train_ch6_prints_the_books_two_lines(fashion, in_tmp, capsys):
    train, test = d2l.load_data_fashion_mnist(4, root=fashion)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    d2l.train_ch6(net, train, test, 2, 0.1, d2l.try_gpu())
    printed = capsys.readouterr().out
    assert re.search(r"^loss \d+\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}$", printed, re.M)
    assert re.search(r"^\d+\.\d examples/sec on cpu$", printed, re.M)
    assert 0 <= d2l.evaluate_accuracy_gpu(net, test) <= 1


def test_voc_missing_names_where_to_put_it(monkeypatch, tmp_path):
    monkeypatch.setattr(d2l.data, "search_folders", lambda name: [tmp_path / name])
    with pytest.raises(DatasetNotFoundError, match="does not download") as error:
        d2l.load_data_voc(2, (4, 4))
    assert str(tmp_path / "voc2012") in str(error.value) and "VOCtrainval_11-May-2012.tar" in str(error.value)
    with pytest.raises(DatasetNotFoundError):
        d2l.download_extract("voc2012", "VOCdevkit/VOC2012")


def test_voc_loads_from_a_local_copy_and_trains_with_train_ch13(monkeypatch, tmp_path, in_tmp, capsys):
    rng = numpy.random.default_rng(0)
    root = tmp_path / "voc2012" / "VOCdevkit" / "VOC2012"
    for split in ("train", "val"):
        _write_voc(root, {f"{split}_{i}": _example(rng, 8, 10) for i in range(4)}, image_set=split)
    monkeypatch.setattr(d2l.data, "search_folders", lambda name: [tmp_path / name])
    train, test = d2l.load_data_voc(2, (6, 8))
    X, y = next(iter(train))
    assert X.shape == (2, 3, 6, 8) and y.shape == (2, 6, 8) and y.dtype == numpy.int64
    images, labels = d2l.read_voc_images(d2l.download_extract(), False)
    assert len(images) == 4 and images[0].shape == (3, 8, 10) and labels[0].dtype == numpy.uint8
    normalized = test.dataset.normalize_image(images[0])
    assert normalized.dtype == numpy.float32 and abs(float(normalized.mean())) < 3
    net = nn.Conv2d(3, 21, kernel_size=1)
    loss = lambda inputs, targets: F.cross_entropy(inputs, targets, reduction="none").mean(1).mean(1)  # noqa: E731
    d2l.train_ch13(net, train, test, loss, minicnn.optim.SGD(net.parameters(), lr=0.01), 1, d2l.try_all_gpus())
    printed = capsys.readouterr().out
    assert re.search(r"^loss \d+\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}$", printed, re.M)
    assert "examples/sec on [device(type='cpu')]" in printed


def test_show_images_and_set_figsize(in_tmp):
    plt = d2l.plt
    d2l.set_figsize((2.0, 1.5))
    assert tuple(plt.rcParams["figure.figsize"]) == (2.0, 1.5)
    images = [minicnn.rand(4, 5), minicnn.rand(4, 5, 3).numpy(), minicnn.zeros(4, 5)]
    axes = d2l.show_images(images, 1, 3, titles=["a", "b", "c"], scale=1)
    assert len(axes) == 3 and [ax.get_title() for ax in axes] == ["a", "b", "c"]
    assert axes[1].images[0].get_array().shape == (4, 5, 3)
    plt.close("all")
