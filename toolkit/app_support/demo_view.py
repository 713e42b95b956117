"""The embedded service's demo history in the app: a progress banner while it is made.

Shown at the top of every page (``app.py``) while the background demo runs:
a progress bar that refreshes itself every second (``st.fragment``), then,
once the history is complete, one rerun of the page so it shows the data.

    >>> demo_banner(session.embedded_service())        # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from toolkit.app_support import session

__all__ = ["demo_banner", "REFRESH_SECONDS"]

REFRESH_SECONDS = 1.0


def demo_banner(service: Any | None) -> None:
    """Progress of the demo history of ``service`` (an ``AppService``), while it runs or if it failed."""
    if service is None:
        return
    if service.note:
        st.sidebar.warning(service.note, icon=":material/warning:")
    if service.demo.state not in ("running", "failed"):
        return
    seen_running = service.demo.state == "running"

    @st.fragment(run_every=REFRESH_SECONDS if seen_running else None)
    def banner() -> None:
        demo = service.demo
        if demo.state == "running":
            st.progress(demo.fraction, text=(
                f"Making the demo history through the embedded service: {demo.message} "
                f"({demo.elapsed:.0f} s). The pages work meanwhile; the dashboard shows the whole history when it is done."))
        elif demo.state == "failed":
            st.error(f"The demo history could not be made: {demo.message}", icon=":material/error:")
        if seen_running and demo.state != "running":
            session.refresh_imports()
            st.rerun()  # the whole page, with the complete history

    banner()
