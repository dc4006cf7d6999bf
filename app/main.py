"""The CHLU dashboard: ``streamlit run app/main.py``."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `streamlit run app/main.py` puts app/ on sys.path, not the repository root; without this, `import app`
# and `import chlu_core` fail wherever the package is not pip-installed (Streamlit Community Cloud
# installs requirements.txt only).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import warmup  # noqa: E402
from app.navigation import PAGES  # noqa: E402

# No torch here (2 s to import): the overview draws from precomputed free runs without it (app/precomputed.py),
# and the warm-up thread loads it in the background.
st.set_page_config(page_title="CHLU — Causal Hamiltonian Learning Unit", page_icon="🌀", layout="wide")
try:
    with warmup.page_running():  # the warm-up waits for it between views
        st.navigation([page.page() for page in PAGES]).run()
finally:
    # After the first page, not before: on two cores the warm-up thread would otherwise compete with the
    # first visitor's own page for the CPU and the GIL. (finally: a page may end its run with st.stop().)
    warmup.start()
