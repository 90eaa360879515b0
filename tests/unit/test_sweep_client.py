"""The parts of ``nodes/headless/client.py`` that need no server: address checks and output names
(the sweep and the other commands share them). Standard library only."""

from __future__ import annotations

import pytest

from comfyui_inertia.nodes.headless.client import UsageError, check_server, output_names, slug


@pytest.mark.parametrize("good", ["127.0.0.1:8188", "localhost", "http://gpu-3.lab:8188/", "https://comfy.example.org",
                                  "[::1]:8188", "comfy"])
def test_good_addresses(good):
    assert check_server(good) == good


@pytest.mark.parametrize("bad", ["not a host", "", ":8188", "127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1:port",
                                 "ftp://host:21", "host:8188?x=1", "-bad-.host"])
def test_bad_addresses(bad):
    with pytest.raises(UsageError) as e:
        check_server(bad)
    assert str(e.value) == f"bad --server {bad!r}: expected HOST:PORT or http://HOST:PORT (e.g. 127.0.0.1:8188)"


def test_output_names_follow_titles_and_settings():
    graph = {"12": {"class_type": "SaveVideo", "_meta": {"title": "Save video"}},
             "14": {"class_type": "RelaxationCFGPreview", "_meta": {"title": "RelaxationCFGPreview"}},
             "20": {"class_type": "SaveImage", "_meta": {"title": "Save video"}}}
    items = [("12", 0, {"filename": "inertia_00001_.mp4"}), ("14", 0, {"filename": "ComfyUI_temp_xyz_00001_.png"}),
             ("20", 0, {"filename": "a_00001_.PNG"}), ("20", 1, {"filename": "a_00002_.png"})]
    assert output_names(items, graph, "_beta=0.5_seed=3") == [
        "Save_video_12_beta=0.5_seed=3.mp4", "RelaxationCFGPreview_beta=0.5_seed=3.png",
        "Save_video_20_beta=0.5_seed=3_01.png", "Save_video_20_beta=0.5_seed=3_02.png"]
    assert slug("../../etc/passwd") == "etc_passwd" and slug("β = 0.75 / p") == "=_0.75_p"
