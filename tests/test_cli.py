"""The CLI: JSON contents against scipy, the readable report, export, and every error path."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT
from scipy import stats

from embexplorer.cli import main

TEXTS = ["The bank raised rates.", "We sat on the river bank."]


class FakeStdin(io.StringIO):
    def isatty(self):
        return False


def run(args, stdin_text=None):
    out, err = io.StringIO(), io.StringIO()
    stdin = FakeStdin(stdin_text) if stdin_text is not None else FakeStdin("")
    old_err, sys.stderr = sys.stderr, err
    try:
        status = main(args, stdin=stdin, stdout=out)
    finally:
        sys.stderr = old_err
    return status, out.getvalue(), err.getvalue()


def test_json_matches_scipy_on_upper_triangles(tiny_models_env):
    status, out, err = run(["compare", "--json", "--permutations", "500", *TEXTS])
    assert status == 0, err
    result = json.loads(out)
    assert result["items"] == [
        "The",
        "bank",
        "raised",
        "rates",
        ".",
        "We",
        "sat",
        "on",
        "the",
        "river",
        "bank",
        ".",
    ]
    assert result["models"] == [str(p) for p in tiny_models_env]
    assert result["layers"] == [3, 2]  # -1 resolved: tiny GPT-2 has 3 blocks, tiny BERT 2
    sim_a, sim_b = (np.array(m, dtype=float) for m in result["similarity"])
    n = len(result["items"])
    assert sim_a.shape == sim_b.shape == (n, n)
    iu = np.triu_indices(n, k=1)
    rsa = result["rsa"]
    assert rsa["pearson"] == pytest.approx(stats.pearsonr(sim_a[iu], sim_b[iu])[0], abs=1e-9)
    assert rsa["spearman"] == pytest.approx(stats.spearmanr(sim_a[iu], sim_b[iu])[0], abs=1e-9)
    assert rsa["n_items"] == n and rsa["n_pairs"] == n * (n - 1) // 2
    assert rsa["permutations"] == 500 and 0 < rsa["p_value"] <= 1
    assert 0 <= result["cka"] <= 1


def test_readable_report_and_options(tiny_models_env):
    status, out, err = run(
        [
            "compare",
            "--unit",
            "sentence",
            "--metric",
            "euclidean",
            "--preprocess",
            "center",
            "--layer-a",
            "0",
            "--layer-b",
            "-2",
            "--permutations",
            "100",
            "--bootstraps",
            "50",
            "a river bank",
            "a money bank",
            "a cat on a mat",
        ]
    )
    assert status == 0, err
    assert "3 sentence items, 3 pairs" in out
    assert "layer 0 of 3" in out and "layer 1 of 2" in out
    assert "Spearman rho" in out and "CKA" in out


def test_texts_from_file_and_stdin(tiny_models_env, tmp_path):
    path = tmp_path / "sentences.txt"
    path.write_text("\n".join(TEXTS) + "\n\n", encoding="utf-8")
    from_file = json.loads(
        run(["compare", "--json", "--permutations", "0", "--file", str(path)])[1]
    )
    from_stdin = json.loads(run(["compare", "--json", "--permutations", "0"], "\n".join(TEXTS))[1])
    assert from_file["items"] == from_stdin["items"]
    assert from_file["rsa"]["p_value"] is None  # no permutations: no p-value


def test_export_npz(tiny_models_env, tmp_path):
    target = tmp_path / "items.npz"
    status, _, err = run(["compare", "--permutations", "0", "--export", str(target), *TEXTS])
    assert status == 0, err
    data = np.load(target)
    assert data["vectors_a"].shape == (12, 32) and data["vectors_b"].shape == (12, 32)
    assert list(data["items"])[:3] == ["The", "bank", "raised"]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["compare"], "", "no text given"),
        (["compare"], "   \n\n", "no text given"),
        (["compare", "Hi"], None, "too few"),
        (["compare", "--model-a", "/no/such/folder", *TEXTS], None, "/no/such/folder"),
        (["compare", "--model-b", "no-org/no-model-here", *TEXTS], None, "no-org/no-model-here"),
        (["compare", "--layer-a", "9", *TEXTS], None, "out of range"),
        (["compare", "--layer-b", "-4", *TEXTS], None, "out of range"),
        (["compare", "--metric", "manhattan", *TEXTS], None, "invalid choice"),
        (["compare", "--permutations", "-1", *TEXTS], None, "must be 0 or more"),
        (["compare", "--file", "/no/such/file.txt"], None, "cannot read"),
        (["frobnicate"], None, "invalid choice"),
    ],
)
def test_errors_exit_2_with_one_line(tiny_models_env, args, stdin, message):
    status, out, err = run(args, stdin)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err
    assert "Traceback" not in err


def test_module_entry_point_in_a_real_process(tiny_models_env):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    done = subprocess.run(
        [sys.executable, "-m", "embexplorer", "compare", "--json", "--permutations", "200", *TEXTS],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rsa"]["permutations"] == 200
    bad = subprocess.run(
        [sys.executable, "-m", "embexplorer", "compare", "--layer-a", "50", *TEXTS],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


# --- issue 10: control, same-word pairs, duplicates, shared tokens, context -----------------------


def test_five_identical_texts_are_not_a_perfect_score(tiny_models_env):
    status, out, err = run(["compare", "cat", "cat", "cat", "cat", "cat"])
    assert status == 2 and out == ""
    assert "not defined" in err and "repeat" in err and "1.000" not in err


def test_repeated_sentence_counted_once_and_same_word_pairs_reported(tiny_models_env):
    sentence = "A bank raised rates and one bank fell."
    results = []
    for copies in (1, 2, 3):
        status, out, err = run(["compare", "--json", "--permutations", "200", *[sentence] * copies])
        assert status == 0, err
        results.append(json.loads(out))
    assert [r["n_duplicate_sentences"] for r in results] == [0, 1, 2]
    assert results[2]["duplicate_sentences"] == [1, 2]
    assert results[0]["items"] == results[1]["items"] == results[2]["items"]
    assert results[0]["rsa"]["spearman"] == results[2]["rsa"]["spearman"]
    assert results[0]["rsa"]["p_value"] == results[2]["rsa"]["p_value"]
    rsa = results[0]["rsa"]
    assert rsa["n_same_word_pairs"] == 1 and rsa["same_word_excluded"] is False  # bank-bank
    assert "paired up at random" in rsa["null"]


def test_exclude_same_word_leaves_those_pairs_out(tiny_models_env):
    status, out, err = run(
        ["compare", "--json", "--exclude-same-word", "--permutations", "100", *TEXTS]
    )
    assert status == 0, err
    rsa = json.loads(out)["rsa"]
    # "bank" twice, "." twice (the/The differ in the cased GPT-2 but not in the uncased BERT)
    assert rsa["n_same_word_pairs"] == 3 and rsa["same_word_excluded"] is True
    assert rsa["n_pairs_compared"] == rsa["n_pairs"] - 3


def test_control_is_reported_in_json_and_text(tiny_models_env):
    args = ["compare", "--control", "--permutations", "100", "--bootstraps", "20", *TEXTS]
    status, out, err = run([*args, "--json"])
    assert status == 0, err
    control = json.loads(out)["control"]
    assert {"spearman", "pearson", "p_value", "seed", "seeds"} <= set(control)
    assert control["seed"] == 0 and control["seeds"][0] != control["seeds"][1]
    assert -1 <= control["spearman"] <= 1
    status, out, err = run(args)
    assert status == 0, err
    assert "control (random weights" in out
    assert json.loads(run([*args[:1], *args[2:], "--json"])[1])["control"] is None


def test_items_sharing_tokens_in_json(gpt2_real_dir, minilm_dir):
    models = ["--model-a", str(gpt2_real_dir), "--model-b", str(minilm_dir)]
    texts = ["See http://x.org now", "Then x😀y ok"]
    status, out, err = run(["compare", "--json", "--permutations", "0", *models, *texts])
    assert status == 0, err
    shared = {entry["item"]: entry["models"] for entry in json.loads(out)["items_sharing_tokens"]}
    assert shared[":"] == ["A"] and shared["😀"] == ["B"]  # GPT-2's "://", MiniLM's [UNK]
    assert "See" not in shared and "ok" not in shared
    status, out, err = run(["compare", "--permutations", "0", *models, *texts])
    assert "items share a token with another word" in out


def test_context_json_on_tiny_models(tiny_models_env):
    texts = ["The bank raised rates.", "We sat on the river bank.", "She paid the bank."]
    status, out, err = run(["context", "bank", "--json", "--bootstraps", "50", *texts])
    assert status == 0, err
    result = json.loads(out)
    assert result["word"] == "bank"
    assert [row["layer"] for row in result["a"]] == [0, 1, 2, 3]
    assert [row["layer"] for row in result["b"]] == [0, 1, 2]
    for row in result["a"] + result["b"]:
        assert set(row) >= {"layer", "self_similarity", "anisotropy", "adjusted", "n_occurrences"}
        assert row["adjusted"] == pytest.approx(row["self_similarity"] - row["anisotropy"])
        assert row["n_occurrences"] == 3
    assert result["a_details"]["few_contexts"] is True  # 3 contexts < 5
    assert "at least 5" in err
    status, out, err = run(["context", "bank", "--layer-a", "-1", "--layer-b", "0", *texts])
    assert status == 0, err
    assert "layer  3" in out and "layer  0" in out


def test_context_errors(tiny_models_env):
    status, _, err = run(["context", "river", "The river.", "A bank."])
    assert status == 2 and "2 different sentences" in err


def test_context_on_real_tokenizer_gpt2_and_minilm(gpt2_real_dir, minilm_dir):
    texts = ["Café culture.", "The café opened.", "A café closed.", "Our café won."]
    common = ["--model-a", str(gpt2_real_dir), "--model-b", str(minilm_dir), "--json"]
    status, out, err = run(["context", "café", *common, "--bootstraps", "20", *texts])
    assert status == 0, err
    result = json.loads(out)
    # GPT-2 is cased: "Café" is another token; MiniLM lower-cases: four occurrences
    assert result["a"][0]["n_occurrences"] == 3 and result["b"][0]["n_occurrences"] == 4
    assert result["a_details"]["cased"] is True and result["b_details"]["cased"] is False
    status, out, err = run(["context", "Café", *common, "--skip-first", *texts])
    assert status == 2 and "model A" in err  # GPT-2: one "Café", at position 0
