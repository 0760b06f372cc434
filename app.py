"""embexplorer: the entry point.

``streamlit run app.py`` imports this file once to find the App below and serves it; the App's
lifespan starts loading the default models with the server (:mod:`embexplorer.app.server`).
Every page view then runs this file as the App's script (``__main__``): the pages and the home
page are in :mod:`embexplorer.app.navigation`.
"""

import streamlit as st

if __name__ == "__main__":
    from embexplorer.app.navigation import run_app

    run_app()
else:
    from embexplorer.app.server import load_models_at_start

    app = st.App(__file__, lifespan=load_models_at_start)
