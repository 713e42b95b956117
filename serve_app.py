"""The app's entry point for `make run`: `streamlit run serve_app.py`.

It serves the same app as `streamlit run app.py` (every page, every URL), with
one difference: uploads are streamed to disk by
``toolkit.app_support.upload_spool.UploadSpool`` instead of being held in
Streamlit's memory (a 200 MB file no longer costs 400 MB). `streamlit run`
finds the ``st.App`` below and serves it with uvicorn; `streamlit run app.py`
still works, with Streamlit's own upload route.
"""

from __future__ import annotations

import streamlit as st
from starlette.middleware import Middleware

from toolkit.app_support.upload_spool import UploadSpool

app = st.App("app.py", middleware=[Middleware(UploadSpool)])
