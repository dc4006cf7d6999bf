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
import torch  # noqa: E402

from app import warmup  # noqa: E402
from app.navigation import PAGES  # noqa: E402

# The models are tiny: a second intra-op thread only adds synchronisation, and on a busy or shared CPU it
# made rollouts 20–100× slower (an LSTM free run: 0.07 s on one thread, 12 s on two). Concurrent sessions
# get their parallelism from Streamlit's threads instead.
torch.set_num_threads(1)

st.set_page_config(page_title="CHLU — Causal Hamiltonian Learning Unit", page_icon="🌀", layout="wide")
warmup.start()
st.navigation([page.page() for page in PAGES]).run()
