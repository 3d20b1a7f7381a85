"""`make demo` runs applications/demo.py: the whole product, offline, in a few minutes."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_the_demo_runs_every_step_offline(tmp_path):
    env = dict(os.environ, KERAS_HOME=str(tmp_path / "keras_home"))  # nothing cached
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "applications", "demo.py"),
                           "--output", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for number in range(1, 5):
        assert f"\n== {number}. " in out
    held_out = int(re.search(r"top-1 on these 10: (\d+)/10", out).group(1))
    assert held_out >= 5  # the shipped SE-ResNet-20 on one real image per class
    assert "20/20" in out + proc.stderr  # one epoch of 20 steps, with the progress bar
    assert os.path.exists(tmp_path / "out" / "finetune" / "model.keras")
    assert os.path.exists(tmp_path / "out" / "serving" / "se_resnet20_cifar" / "1" /
                          "saved_model.pb")
    served = out[out.index("predict_image_bytes(image_bytes=<JPEG files>):"):]
    assert len(re.findall(r"val/\w+/4509\.jpg", served)) == 4
    assert "TF Serving: --model_base_path=" in out
    # Nothing the project can silence: TensorFlow's start-up lines, Keras' warnings.
    noise = re.findall(r".*(?:cuda drivers|cuInit|oneDNN custom operations|"
                       r"absl::InitializeLog|rebuild TensorFlow|Warning:).*", out + proc.stderr)
    assert noise == []
