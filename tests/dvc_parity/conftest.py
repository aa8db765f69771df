from __future__ import annotations

from pathlib import Path

import pytest

from .dvcenv import ensure_dvc


@pytest.fixture(scope="session")
def dvc_bin() -> Path:
    """Real DVC, pinned, in the harness's own venv (installed once, then reused)."""
    return ensure_dvc()
