"""The toolkit's Streamlit app: `make run` (streamlit run serve_app.py, which serves this script).

Every URL runs this script: it builds the navigation (``st.navigation``
over the page scripts in ``app_pages/``, a folder Streamlit does not treat as
automatic pages), the sidebar and the demo banner, then the page. A deep
link such as ``/dashboard`` on a cold start gets the same app. Without
``TOOLKIT_API_URL`` (secrets or environment) the app starts the embedded
local service on its data folder; on an empty store a demo history is made
in the background while the pages already work.
"""

from __future__ import annotations

import streamlit as st

from toolkit.app_support import session
from toolkit.app_support.demo_view import demo_banner
from toolkit.app_support.ui import show_errors

st.set_page_config(page_title="cc5 toolkit", page_icon=":material/upload_file:", layout="wide")

navigation = st.navigation(
    [
        st.Page("app_pages/validate_import.py", title="Validate & import", icon=":material/fact_check:",
                default=True, url_path="validate"),
        st.Page("app_pages/imports.py", title="Imports", icon=":material/list_alt:", url_path="imports"),
        st.Page("app_pages/dashboard.py", title="Dashboard", icon=":material/monitoring:", url_path="dashboard"),
    ]
)

service = None
with st.sidebar, show_errors("Connecting to the import API"):
    target = session.current_target()
    st.caption("Import API")
    st.markdown(f"**{'Embedded local service' if target.embedded else 'Configured API'}**  \n`{target.url}`")
    st.caption(f"{target.api} API")
    service = session.embedded_service()
demo_banner(service)

navigation.run()
