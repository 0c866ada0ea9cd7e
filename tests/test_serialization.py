"""Saving and loading: exact round trips, no pickle, atomic writes, clear errors."""
import os

import numpy
import pytest
from numpy.lib import format as npy_format

from minicnn import backend, models, serialization
from minicnn.autograd import Tensor
from minicnn.serialization import SerializationError, load, save


def state_dict_like():
    rng = numpy.random.default_rng(0)
    return {
        "conv1.weight": rng.standard_normal((6, 1, 5, 5)).astype(numpy.float32),
        "conv1.bias": rng.standard_normal(6),  # float64
        "bn.num_batches_tracked": numpy.array(3, dtype=numpy.int64),
        "mask": numpy.array([True, False]),
        "codes": numpy.arange(4, dtype=numpy.int8),
        "empty": numpy.zeros((0, 3), dtype=numpy.float32),
    }


def assert_same_arrays(loaded, saved):
    assert list(loaded) == list(saved)
    for name, array in saved.items():
        assert isinstance(loaded[name], numpy.ndarray)
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        numpy.testing.assert_array_equal(loaded[name], array)


# -- round trips ------------------------------------------------------------------------------

def test_flat_state_dict_round_trip_keeps_values_dtypes_and_order(tmp_path):
    state = state_dict_like()
    save(state, tmp_path / "model.npz")
    assert_same_arrays(load(tmp_path / "model.npz"), state)


def test_nested_checkpoint_round_trip_returns_python_values(tmp_path):
    checkpoint = {
        "model": state_dict_like(),
        "optimizer": {"state": {0: {"step": 4, "exp_avg": numpy.ones(3, numpy.float32)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "amsgrad": False,
                                        "params": [0, 1]}]},
        "epoch": 3,
        "best_accuracy": 0.8125,
        "name": "lenet",
        "note": None,
        "rng": {"seed": 2**100 + 7, "negative": -12},
        "history": {"loss": [2.3, 1.1], "empty": [], "nothing": {}},
    }
    save(checkpoint, tmp_path / "ckpt.npz")
    loaded = load(tmp_path / "ckpt.npz")
    assert_same_arrays(loaded["model"], checkpoint["model"])
    numpy.testing.assert_array_equal(loaded["optimizer"]["state"][0]["exp_avg"], numpy.ones(3))
    assert loaded["optimizer"]["param_groups"] == checkpoint["optimizer"]["param_groups"]
    assert type(loaded["optimizer"]["param_groups"][0]["betas"]) is tuple
    rest = {k: v for k, v in loaded.items() if k not in ("model", "optimizer")}
    assert rest == {k: v for k, v in checkpoint.items() if k not in ("model", "optimizer")}
    assert type(loaded["epoch"]) is int and type(loaded["best_accuracy"]) is float
    assert type(loaded["optimizer"]["param_groups"][0]["amsgrad"]) is bool


def test_numpy_scalars_come_back_as_python_numbers_and_tensors_as_arrays(tmp_path):
    weight = Tensor(numpy.full((2, 2), 0.5, dtype=numpy.float32))
    save({"loss": numpy.float32(0.25), "count": numpy.int64(9), "w": weight}, tmp_path / "s.npz")
    loaded = load(tmp_path / "s.npz")
    assert loaded["loss"] == 0.25 and type(loaded["loss"]) is float
    assert loaded["count"] == 9 and type(loaded["count"]) is int
    assert loaded["w"].dtype == numpy.float32
    numpy.testing.assert_array_equal(loaded["w"], weight.data)


def test_saving_from_any_backend_and_loading_onto_it(tmp_path, xp):
    weight = xp.arange(6, dtype=xp.float32).reshape(2, 3)
    save({"w": weight, "epoch": 1}, tmp_path / "b.npz")
    assert backend.backend_of(weight) == backend.current()  # saving moved nothing
    as_numpy = load(tmp_path / "b.npz")
    on_backend = load(tmp_path / "b.npz", to_backend=True)
    assert isinstance(as_numpy["w"], numpy.ndarray)
    assert backend.backend_of(on_backend["w"]) == backend.current()
    assert on_backend["w"].dtype == xp.float32 and on_backend["epoch"] == 1
    numpy.testing.assert_array_equal(backend.to_numpy(on_backend["w"]), backend.to_numpy(weight))


def test_files_are_ordinary_npz_archives_both_ways(tmp_path):
    save({"model": {"fc.weight": numpy.eye(2)}}, tmp_path / "ours.npz")
    with numpy.load(tmp_path / "ours.npz", allow_pickle=False) as archive:
        numpy.testing.assert_array_equal(archive["model/fc.weight"], numpy.eye(2))
    numpy.savez(tmp_path / "theirs.npz", a=numpy.arange(3), b=numpy.ones(2, numpy.float32))
    loaded = load(tmp_path / "theirs.npz")  # no structure entry: a flat dict of arrays
    assert_same_arrays(loaded, {"a": numpy.arange(3), "b": numpy.ones(2, numpy.float32)})


def test_the_path_is_used_exactly_as_given(tmp_path):
    save({"x": numpy.ones(1)}, tmp_path / "weights")
    assert sorted(os.listdir(tmp_path)) == ["weights"]
    numpy.testing.assert_array_equal(load(str(tmp_path / "weights"))["x"], [1.0])


def test_saving_again_replaces_the_file(tmp_path):
    save({"epoch": 1}, tmp_path / "c.npz")
    save({"epoch": 2}, tmp_path / "c.npz")
    assert load(tmp_path / "c.npz") == {"epoch": 2}


# -- atomic writes --------------------------------------------------------------------------------

@pytest.mark.parametrize("interruption", [OSError("disk full"), KeyboardInterrupt()])
def test_a_save_that_fails_midway_leaves_the_old_file_and_no_litter(tmp_path, monkeypatch, interruption):
    path = tmp_path / "ckpt.npz"
    save({"epoch": 1, "w": numpy.zeros(4)}, path)
    real_write = npy_format.write_array
    written = []

    def write_then_fail(file, array, **kwargs):
        if written:  # the first array is written, the second write dies halfway
            file.write(b"\x93NUMPY half an array")
            raise interruption
        written.append(array)
        real_write(file, array, **kwargs)

    monkeypatch.setattr(npy_format, "write_array", write_then_fail)
    with pytest.raises(type(interruption)):
        save({"epoch": 2, "w": numpy.ones(4)}, path)
    monkeypatch.undo()

    assert written, "the failing save never started writing"
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    loaded = load(path)
    assert loaded["epoch"] == 1
    numpy.testing.assert_array_equal(loaded["w"], numpy.zeros(4))


def test_an_unsaveable_value_writes_nothing(tmp_path):
    with pytest.raises(SerializationError, match=r"cannot store the set at 'extra/tags'"):
        save({"w": numpy.ones(2), "extra": {"tags": {"a", "b"}}}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_saving_into_a_missing_folder_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({"w": numpy.ones(2)}, tmp_path / "no" / "such" / "x.npz")


# -- never pickle ---------------------------------------------------------------------------------

def test_object_arrays_are_refused_on_save(tmp_path):
    with pytest.raises(SerializationError, match=r"'model/w' holds Python objects"):
        save({"model": {"w": numpy.array([{"a": 1}], dtype=object)}}, tmp_path / "x.npz")


def test_a_pickled_npz_is_refused_on_load(tmp_path):
    path = tmp_path / "pickled.npz"
    numpy.savez(path, weights=numpy.ones(2), evil=numpy.array([print], dtype=object))
    with pytest.raises(SerializationError, match=r"pickled\.npz.*'evil' holds pickled Python objects"):
        load(path)


# -- damaged files ------------------------------------------------------------------------------

def test_a_truncated_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"model": state_dict_like(), "epoch": 3}, path)
    data = path.read_bytes()
    for cut in (len(data) - 10, len(data) // 2, 100):
        path.write_bytes(data[:cut])
        with pytest.raises(SerializationError, match=r"ckpt\.npz.*truncated or corrupt"):
            load(path)


def test_flipped_bytes_inside_an_array_are_caught_by_the_checksum(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"w": numpy.zeros(1000)}, path)
    data = bytearray(path.read_bytes())
    data[2000:2008] = b"\xff" * 8  # inside the array's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(SerializationError, match="truncated or corrupt"):
        load(path)


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"\x93NUMPY\x01\x00", "single .npy array"),
    (b"hello, world", "not an .npz archive"),
])
def test_files_that_are_not_archives_say_what_they_are(tmp_path, content, message):
    path = tmp_path / "weird.npz"
    path.write_bytes(content)
    with pytest.raises(SerializationError, match=message):
        load(path)


def test_a_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.npz.*no such file"):
        load(tmp_path / "nothing.npz")


def test_a_damaged_structure_entry_is_reported(tmp_path):
    path = tmp_path / "x.npz"
    numpy.savez(path, **{serialization.TREE_ENTRY: numpy.asarray("{not json"), "w": numpy.ones(1)})
    with pytest.raises(SerializationError, match="structure entry"):
        load(path)


# -- keys -----------------------------------------------------------------------------------------

def test_keys_with_the_separator_or_colliding_names_are_refused(tmp_path):
    with pytest.raises(SerializationError, match="contains '/'"):
        save({"model": {"conv/weight": numpy.ones(1)}}, tmp_path / "x.npz")
    with pytest.raises(SerializationError, match="two values would be stored under the name 'state/0'"):
        save({"state": {0: 1, "0": 2}}, tmp_path / "x.npz")
    with pytest.raises(SerializationError, match="only str and int keys"):
        save({(1, 2): numpy.ones(1)}, tmp_path / "x.npz")
    with pytest.raises(SerializationError, match="expected a dict"):
        save([numpy.ones(1)], tmp_path / "x.npz")


def test_a_state_dict_of_another_network_is_summarised_not_listed():
    small, large = models.resnet18(width=1 / 16), models.densenet(width=1 / 16)
    with pytest.raises(RuntimeError) as error:
        small.load_state_dict(large.state_dict())
    message = str(error.value)
    missing = [k for k in small.state_dict() if k not in large.state_dict()]
    unexpected = [k for k in large.state_dict() if k not in small.state_dict()]
    assert f"Missing key(s) in state_dict: {len(missing)} key(s): " in message
    assert f"Unexpected key(s) in state_dict: {len(unexpected)} key(s): " in message
    assert f'"{missing[4]}", … and {len(missing) - 5} more' in message and missing[5] not in message
    assert f'"{unexpected[0]}"' in message and unexpected[-1] not in message
    assert len(message) < 2000  # hundreds of keys, a few lines of text


def test_many_size_mismatches_show_the_first_five_and_the_count():
    narrow, wide = models.resnet18(width=1 / 16), models.resnet18(width=1 / 8)
    with pytest.raises(RuntimeError) as error:
        narrow.load_state_dict(wide.state_dict())
    lines = str(error.value).splitlines()
    mismatches = sum(1 for key, value in wide.state_dict().items() if value.shape != narrow.state_dict()[key].shape)
    assert sum(line.lstrip().startswith("size mismatch for") for line in lines) == 5
    assert lines[-1].strip() == f"… and {mismatches - 5} more size mismatches ({mismatches} in all)"
