"""Validate & import: drop a file, see what is wrong before it goes anywhere, and send it."""

from __future__ import annotations

import streamlit as st

from toolkit.app_support import uploads
from toolkit.app_support.ui import show_errors
from toolkit.app_support.validate_view import held_prepared, import_controls, prepare_once, show_prepared

st.title("Validate & import")
uploaded = st.file_uploader(
    "Drop a cc5 file (.cc5txt), or a CSV / Parquet table to convert",
    type=uploads.UPLOAD_TYPES,
    key="validate.upload",
)
if uploaded is None:
    st.info("The file is validated here first: nothing is sent to the import API until you press Import.")
    st.stop()

name = uploaded.name
held = None
with show_errors(f"Reading {name}"):
    kind = uploads.kind_of(name)
    if kind == "cc5":
        prepare_once(uploaded.file_id, name, lambda work: uploads.prepare_cc5(name, uploaded.getbuffer(), work))
    else:
        columns = uploads.table_columns(name, uploaded)
        with st.form("validate.convert"):
            st.caption(f"{name} is a {kind.upper()} table: say what it holds to write it as cc5.")
            cols = st.columns(3)
            entity = cols[0].text_input("Entity type", placeholder="customer")
            workspace = cols[1].text_input("Workspace", placeholder="ws-eu")
            bucket = cols[2].text_input("Bucket", value="bk-main")
            keys = st.multiselect("Key columns", columns, default=columns[:1])
            customer = st.text_input("Customer code (optional)")
            converted = st.form_submit_button("Convert and validate")
        options = dict(entity_type=entity.strip(), workspace=workspace.strip(), keys=keys,
                       bucket_id=bucket.strip(), customer=customer.strip() or None)
        if converted:
            prepare_once(f"{uploaded.file_id}:{sorted(options.items())}", name,
                         lambda work: uploads.convert_table(name, uploaded.getbuffer(), work, **options))
    held = held_prepared(uploaded.file_id)

if held is not None:
    upload_key, prepared = held
    show_prepared(prepared)
    st.subheader("Import")
    import_controls(prepared, upload_id=upload_key)
