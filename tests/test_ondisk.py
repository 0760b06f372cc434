"""Hidden states kept in a temporary file (``embexplorer.ondisk``), and the app reading them."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from conftest import ROOT, charts, traced_peak
from streamlit.testing.v1 import AppTest
from test_pages import TIMEOUT, assert_clean, model_runs  # noqa: F401

from embexplorer import align, layers
from embexplorer._validation import check_layered
from embexplorer.extract import extract_hidden_states
from embexplorer.layerstack import LayerStack
from embexplorer.ondisk import LayersOnDisk

SENTENCES = [
    "The bank raised its interest rates.",
    "She sat on the river bank and watched the water.",
    "A quick brown fox jumps over the lazy dog.",
    "Bankers and fishermen both talk about banks.",
]


def on_disk(array: np.ndarray, pieces: int = 3) -> LayersOnDisk:
    """``array`` written into a file in ``pieces`` token ranges, as a model run writes it."""
    stored = LayersOnDisk(array.shape, array.dtype)
    bounds = np.linspace(0, array.shape[1], pieces + 1).astype(int)
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        stored[:, start:stop] = array[:, start:stop]
    return stored


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_every_read_gives_the_arrays_values(dtype):
    array = np.random.default_rng(0).standard_normal((4, 50, 8)).astype(dtype)
    stored = on_disk(array)
    assert (stored.shape, stored.dtype, stored.nbytes, len(stored)) == (
        array.shape,
        array.dtype,
        array.nbytes,
        4,
    )
    assert np.array_equal(np.asarray(stored), array)
    for index in (0, 3, -1, -4):
        assert np.array_equal(stored[index], array[index])
    assert np.array_equal(stored[1:3], array[1:3])
    assert np.array_equal(stored[::-2], array[::-2])
    assert all(np.array_equal(a, b) for a, b in zip(stored, array, strict=True))
    # a window reads the same file; a window of a window counts from its own start
    window = stored[:, 5:30]
    assert isinstance(window, LayersOnDisk) and window.shape == (4, 25, 8)
    assert np.array_equal(window[2], array[2, 5:30])
    assert np.array_equal(window[:, 3:7, :][-1], array[-1, 8:12])
    assert stored[:, 45:99].shape == (4, 5, 8) and stored[:, 30:10].shape == (4, 0, 8)
    # rows: a lazy stack, in the order given; a mask picks the same rows
    rows = stored[:, [3, 1, 40]]
    assert isinstance(rows, LayerStack)
    assert np.array_equal(rows[2], array[2, [3, 1, 40]])
    mask = np.zeros(50, dtype=bool)
    mask[[2, 9]] = True
    assert np.array_equal(stored[:, mask, :][1], array[1, mask])
    # anything else is built in memory
    assert np.array_equal(stored[:, :, 0], array[:, :, 0])
    assert np.array_equal(stored[2, 7], array[2, 7])
    assert np.array_equal(stored.astype(np.float64), array.astype(np.float64))
    assert np.array_equal(pickle.loads(pickle.dumps(stored)), array)
    copy = stored.copy()
    copy[0] = 0
    assert np.array_equal(stored[0], array[0])
    with pytest.raises(IndexError):
        stored[4]


def test_a_few_rows_are_read_run_by_run_and_many_with_the_whole_layer(monkeypatch):
    array = np.random.default_rng(1).standard_normal((3, 400, 6)).astype(np.float16)
    stored = on_disk(array)
    window = stored[:, 100:300]
    reads = []
    real_read = type(stored._file).read_into
    monkeypatch.setattr(
        type(stored._file),
        "read_into",
        lambda self, buffer, offset: reads.append(len(buffer)) or real_read(self, buffer, offset),
    )
    runs = np.r_[0, 1, 2, 50, 97:100, 399]  # four runs, touching both ends
    for index in (0, 2, -1):
        reads.clear()
        assert np.array_equal(stored.layer_rows(index, runs), array[index, runs])
        assert len(reads) == 4 and sum(reads) == runs.size * 6 * 2
        assert np.array_equal(window.layer_rows(index, [0, 1, 199]), array[index, [100, 101, 299]])
    reads.clear()
    many = np.arange(0, 400, 2)  # half the layer: one read of all of it
    assert np.array_equal(stored.layer_rows(1, many), array[1, many])
    assert reads == [array[1].nbytes]
    # a LayerStack over the file reads this way and gives what it gives over the array
    members = [[5, 6, 7], [300], [301, 302]]
    assert np.array_equal(LayerStack.means(stored, members)[2], LayerStack.means(array, members)[2])


def test_writes_take_whole_token_ranges_of_the_right_shape():
    stored = LayersOnDisk((2, 10, 3), np.float32)
    with pytest.raises(TypeError):
        stored[0] = np.zeros((10, 3))
    with pytest.raises(ValueError, match="do not fit"):
        stored[:, 0:4] = np.zeros((2, 5, 3))
    stored[:, :] = np.ones((2, 10, 3))
    stored[:, 8:] = np.full((2, 2, 3), 2.0)  # overwrites in place
    assert stored[1][:, 0].tolist() == [1.0] * 8 + [2.0] * 2


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_non_finite_values_are_noted_when_written_and_refused_when_used(dtype):
    array = np.ones((3, 6, 2), dtype=dtype)
    assert check_layered(on_disk(array)).all_finite
    for bad in (np.inf, -np.inf, np.nan):
        broken = array.copy()
        broken[1, 4, 0] = bad
        stored = on_disk(broken)
        assert not stored.all_finite
        with pytest.raises(ValueError, match="NaN or infinite"):
            check_layered(stored, "items.vectors")
    # float16's largest value is finite (the bit test looks at the exponent only)
    assert on_disk(np.full((1, 2, 2), 65504, dtype=np.float16)).all_finite


def test_a_model_run_over_the_limit_goes_to_disk_with_the_same_values(tiny_gpt2, tiny_bert):
    for model in (tiny_gpt2, tiny_bert):
        in_memory = extract_hidden_states(model, SENTENCES, dtype=np.float16)
        stored = extract_hidden_states(model, SENTENCES, dtype=np.float16, spill_mb=0)
        kept = extract_hidden_states(model, SENTENCES, dtype=np.float16, spill_mb=1)
        assert isinstance(in_memory.vectors, np.ndarray)
        assert isinstance(kept.vectors, np.ndarray)  # a few KB: under 1 MB stays in memory
        assert isinstance(stored.vectors, LayersOnDisk)
        assert np.array_equal(np.asarray(stored.vectors), in_memory.vectors)
        assert np.array_equal(stored.layer(-1), in_memory.layer(-1))
        part = stored.texts_slice(1, 3)  # a window on the same file
        assert isinstance(part.vectors, LayersOnDisk)
        assert np.array_equal(np.asarray(part.vectors), in_memory.texts_slice(1, 3).vectors)
    # items built on the file read the same vectors as items built on the array
    pairs = [
        [extract_hidden_states(m, SENTENCES, spill_mb=spill) for m in (tiny_gpt2, tiny_bert)]
        for spill in (None, 0)
    ]
    memory_items, disk_items = (align.paired_items(*states, unit="word") for states in pairs)
    for ours, theirs in zip(disk_items, memory_items, strict=True):
        for index in range(len(ours.vectors)):
            assert np.array_equal(ours.vectors[index], theirs.vectors[index])
    assert np.allclose(
        layers.layer_similarity_matrix(*disk_items),
        layers.layer_similarity_matrix(*memory_items),
    )
    token_items = align.token_items(pairs[1][0])  # GPT-2 keeps every token: a window, no copy
    assert isinstance(token_items.vectors, LayersOnDisk)


def test_states_on_disk_hold_no_copy_in_memory(tiny_gpt2):
    texts = [f"Sentence number {i} talks about the river bank and money." for i in range(300)]

    def held_after(spill_mb):
        found = []
        held, _ = traced_peak(
            lambda: found.append(extract_hidden_states(tiny_gpt2, texts, spill_mb=spill_mb))
        )
        return held, found[0].vectors.nbytes

    in_memory, nbytes = held_after(None)
    on_file, _ = held_after(0)
    assert nbytes > 1_000_000
    # what stays is the tokens, offsets and flags, the same either way
    assert on_file < in_memory - 0.95 * nbytes, (on_file, in_memory, nbytes)


def test_every_page_reads_states_on_disk_a_layer_at_a_time(model_runs, monkeypatch):  # noqa: F811
    # With every model run spilled, no page may build all layers of the states in memory.
    monkeypatch.setenv("EMBEXPLORER_SPILL_MB", "0")

    def refuse(self, *args, **kwargs):
        raise AssertionError("a page built every layer of the hidden states in memory")

    made = []
    real_init = LayersOnDisk.__init__

    def counting_init(self, *args, **kwargs):
        made.append(args)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(LayersOnDisk, "__init__", counting_init)
    monkeypatch.setattr(LayersOnDisk, "__array__", refuse)
    monkeypatch.setattr(LayersOnDisk, "copy", refuse)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert_clean(at)
    for path in sorted(ROOT.glob("pages/[1-6]_*.py")):
        at.switch_page(str(path.relative_to(ROOT))).run()
        assert_clean(at)
        assert charts(at), path.name
        at.sidebar.select_slider(key="layer_a").set_value(1).run()
        assert_clean(at)
    assert len(made) == len(model_runs) + len(model_runs.controls) >= 2
