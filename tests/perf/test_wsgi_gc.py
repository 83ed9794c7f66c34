"""escrow_site.wsgi moves what loading the app made out of the collector's reach (gc.freeze),
so full collections in a worker scan only what requests allocate; GC_FREEZE=0 leaves it be.
Run in a child process: freezing this test process would change every test after it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The URLconf's views are loaded before the freeze (else the first request would load them after).
PROBE = (
    "import gc, sys, escrow_site.wsgi; print(gc.get_freeze_count(), 'escrows.api.provider' in sys.modules)"
)


def _probe(**env: str) -> tuple[int, bool]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "escrow_site.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    count, loaded = out.stdout.split()
    return int(count), loaded == "True"


def test_the_wsgi_app_freezes_what_loading_made_unless_told_not_to():
    frozen, views_loaded = _probe()
    assert views_loaded
    # Some library freezes a few hundred objects of its own at import; the app's load is more.
    left_alone, _ = _probe(GC_FREEZE="0")
    assert left_alone < 5_000
    assert frozen > left_alone + 50_000
