"""The toolkit's Streamlit app: `make run` (streamlit run app.py --server.address 127.0.0.1).

Pages are files (AppTest's switch_page needs paths); each stays thin and
calls ``toolkit.app_support``. Without ``TOOLKIT_API_URL`` (secrets or
environment) the app starts the embedded local service and, on an empty
store, fills it with demo imports.
"""

from __future__ import annotations

import streamlit as st

from toolkit.app_support import session
from toolkit.app_support.ui import show_errors

st.set_page_config(page_title="cc5 toolkit", page_icon=":material/upload_file:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/validate_import.py", title="Validate & import", icon=":material/fact_check:", default=True),
        st.Page("pages/imports.py", title="Imports", icon=":material/list_alt:"),
        st.Page("pages/dashboard.py", title="Dashboard", icon=":material/monitoring:"),
    ]
)

target = None
with st.sidebar, show_errors("Connecting to the import API"):
    target = session.current_target()
    st.caption("Import API")
    st.markdown(f"**{'Embedded local service' if target.embedded else 'Configured API'}**  \n`{target.url}`")
    st.caption(f"{target.api} API")
if target is not None:
    with show_errors("Loading the demo data"):
        session.ensure_demo_data(target)  # first start of an empty embedded service only

navigation.run()
