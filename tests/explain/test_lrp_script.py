"""The README's "Use from a script" example, run as a script (no __main__ guard), and the worker's stderr.

With the old ``multiprocessing`` spawn worker this script died with "LRP worker died":
the spawned child re-imported the user's script. The worker is now
``python -m seis_keras.explain.lrp_worker`` and never imports it.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

from seis_keras.data import synthetic
from seis_keras.explain.lrp_client import is_noise

ROOT = Path(__file__).resolve().parents[2]


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Use from a script", 1)[1]
    return section.split("```python", 1)[1].split("```", 1)[0]


def test_readme_example_runs_as_a_script(tmp_path):
    store = tmp_path / "my_store"
    synthetic.detector_data(160, seed=1, path=store)
    code = _readme_example()
    assert "with LRPSession(" in code and "__main__" not in code  # the example as users copy it
    for old, new in (('"my_store"', repr(str(store))), ("epochs=100", "epochs=1"), ("[:64]", "[:8]")):
        assert old in code, old
        code = code.replace(old, new)
    script = tmp_path / "my_script.py"
    script.write_text(code)
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "relevance (8, 500, 3) integrated gradients (8, 500, 3)" in done.stdout
    worker_lines = [line for line in done.stderr.splitlines() if line.startswith("[LRP worker]")]
    assert not [line for line in worker_lines if re.search(r"Unable to register cu(DNN|FFT|BLAS)", line)]
    assert (tmp_path / "runs" / "mine").is_dir()  # the script's relative path resolved in its own folder


def test_tensorflow_start_up_noise_is_recognised():
    noise = [
        "2026-12-01 19:55:01.536239: E tensorflow/compiler/xla/stream_executor/cuda/cuda_dnn.cc:9342] Unable to "
        "register cuDNN factory: Attempting to register factory for plugin cuDNN when one has already been registered",
        "E tensorflow/compiler/xla/stream_executor/cuda/cuda_fft.cc:609] Unable to register cuFFT factory: ...",
        "E tensorflow/compiler/xla/stream_executor/cuda/cuda_blas.cc:1518] Unable to register cuBLAS factory: ...",
        "W tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38] TF-TRT Warning: Could not find TensorRT",
        "I tensorflow/core/util/port.cc:111] oneDNN custom operations are on. You may see slightly different",
    ]
    assert all(is_noise(line) for line in noise)
    for line in ("Traceback (most recent call last):", "ValueError: set_weights: got 3 weight arrays",
                 "Segmentation fault (core dumped)", "E tensorflow/core/framework/op_kernel.cc] OOM when allocating"):
        assert not is_noise(line)
