"""embexplorer: compare how two transformer models (GPT-2 and BERT by default) embed the same text.

The package computes everything; the Streamlit pages only draw. The data travels one way:
text -> tokens -> hidden states [layer, token, dim] -> shared word items -> matrices and scores
-> figures.
"""

__version__ = "0.1.0"
