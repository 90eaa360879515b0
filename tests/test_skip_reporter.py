"""Skip reporter, not a test: says in one skip line why the ComfyUI tiers (tests/inproc, tests/e2e) did not run.

Without ComfyUI, ``tests/conftest.py`` does not collect those tiers at all (their modules import ComfyUI),
so nothing else would tell. With ComfyUI found it passes and checks nothing new (``conftest.py`` already
required ``main.py``).
"""

import pytest


def test_skip_reporter_comfyui_tiers(comfyui_location):
    comfyui, where = comfyui_location
    if comfyui is None:
        pytest.skip(f"needs ComfyUI: none at {where}; set COMFYUI_PATH (tests/inproc and tests/e2e were not collected)")
    assert (comfyui / "main.py").is_file()
