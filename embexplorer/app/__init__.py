"""The Streamlit app's own code: the only part of embexplorer that imports Streamlit.

- :mod:`.selection`  the frozen, hashable description of what is shown (models, texts, items,
  layers, preprocessing): the one cache key of every cached computation
- :mod:`.state`      settings in the page's address (links that reproduce a view)
- :mod:`.caching`    shared model/hidden-state caches and the cached computations
- :mod:`.view`       :class:`~.view.View`: a page's handle on the cached results
- :mod:`.sidebar`    the shared sidebar: texts, models, layers, settings, running the models
- :mod:`.widgets`    small drawing helpers shared by pages (charts, downloads, headers)
- :mod:`.present`    display text and sampling for large sets (no Streamlit calls)
- :mod:`.tables`     the tables behind the download buttons (built on click)
- :mod:`.geometry_sections`, :mod:`.explore_sections`, :mod:`.layers_sections`,
  :mod:`.similarity_sections`, :mod:`.lesson`, :mod:`.context_text`:
  the larger pages' sections and texts, so each page file only arranges them

Pages import what they need from here and only lay out.
"""
