"""Validate & import: drop a file, see what is wrong before it goes anywhere, and send it."""

from __future__ import annotations

import streamlit as st

from toolkit.app_support import uploads
from toolkit.app_support.ui import show_errors
from toolkit.app_support.validate_view import (
    conversion_form,
    held_prepared,
    import_controls,
    release_held,
    prepare_once,
    show_prepared,
)

st.title("Validate & import")
uploaded = st.file_uploader(
    "Drop a cc5 file (.cc5txt), or a CSV / Parquet table to convert",
    type=uploads.UPLOAD_TYPES,
    key="validate.upload",
)
if uploaded is None:
    release_held()  # a removed upload leaves nothing on disk
    st.info("The file is validated here first: nothing is sent to the import API until you press Import.")
    st.stop()

name = uploaded.name
with show_errors(f"Reading {name}"):
    kind = uploads.kind_of(name)
    if kind == "cc5":
        # The engine reads the upload from disk: the file streamed there as it arrived
        # (serve_app.py), or the widget's bytes written once, in chunks.
        prepare_once(uploaded.file_id, name,
                     lambda work, progress: uploads.prepare_cc5(name, uploads.upload_path(uploaded, work), work,
                                                                progress=progress))
    else:
        conversion_form(uploaded, kind)

held = held_prepared(uploaded.file_id)
if held is not None:
    upload_key, prepared = held
    show_prepared(prepared)
    if not prepared.binary:
        st.subheader("Import")
        import_controls(prepared, upload_id=upload_key)
