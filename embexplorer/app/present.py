"""Display constants and helpers that decide what a page shows of a large set (no Streamlit)."""

HEATMAP_MAX_ITEMS = 150  # above this a heatmap shows an evenly spaced sample of the items
SCATTER_MAX_PAIRS = 20_000
