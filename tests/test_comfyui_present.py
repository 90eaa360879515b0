"""Says, as one skip line, when the ComfyUI tests (tests/inproc, tests/e2e) could not run."""

import pytest


def test_comfyui_found_so_comfyui_tests_run(comfyui_location):
    comfyui, where = comfyui_location
    if comfyui is None:
        pytest.skip(f"needs ComfyUI: none at {where}; set COMFYUI_PATH (tests/inproc and tests/e2e were not collected)")
    assert (comfyui / "main.py").is_file()
