"""applications/benchmark_deploy.py end to end on a tiny model: exports, timing subprocess,
merged JSON, markdown and chart."""

import json
import math
import os
import subprocess
import sys

import pytest

from tests.programs import APPLICATIONS, load_application

pytest.importorskip("tf2onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("matplotlib")

ROOT = APPLICATIONS.parent
RUNTIMES = ("keras", "tflite_f32", "onnx")


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    """The program's JSON, markdown and chart for seresnet18 at 32 px, 10 classes, batch 2."""
    out = tmp_path_factory.mktemp("deploy") / "tiny"
    command = [sys.executable, str(APPLICATIONS / "benchmark_deploy.py"),
               "--model", "seresnet18", "--size", "32", "--classes", "10", "--batch", "2",
               "--threads", "1", "--repeats", "1", "--warmup", "1", "--accuracy-images", "6",
               "--runtimes", *RUNTIMES, "--export-processes", "one", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(f"{out}.json") as f:
        return json.load(f), out


def test_every_runtime_has_a_cell_per_batch_with_keras_the_baseline(record):
    record, _ = record
    cells = {(c["runtime"], c["batch"], c["threads"]): c for c in record["cells"]}
    assert set(cells) == {(r, b, 1) for r in RUNTIMES for b in (1, 2)}
    for batch in (1, 2):
        assert cells["keras", batch, 1]["ratio_vs_keras"] == 1.0
    for c in cells.values():
        assert c["ms_min"] <= c["ms"] <= c["ms_max"] and c["ms"] > 0
        assert len(c["ms_repeats"]) == 1
        assert c["ratio_vs_keras"] > 0 and c["gflop_s"] > 0
        if record["peak"]["fp32_gflops_per_core"]:  # the clock was found
            assert 0 < c["fraction_of_fp32_peak"] < 1
    assert cells["tflite_f32", 1, 1]["settings"]["num_threads"] == 1
    assert cells["onnx", 2, 1]["settings"]["intra_op_num_threads"] == 1
    # FLOPs are twice the multiply-adds the library counts.
    assert record["flops_per_image"] == 2 * record["macs_per_image"] > 0


def test_accuracy_columns_compare_every_runtime_with_keras(record):
    record, _ = record
    assert set(record["accuracy"]) == set(RUNTIMES)
    keras = record["accuracy"]["keras"]
    assert keras["max_abs_diff"] == 0 and keras["top1_agreement"] == 1.0
    for name in ("tflite_f32", "onnx"):
        a = record["accuracy"][name]
        assert math.isfinite(a["max_abs_diff"]) and a["relative_diff"] < 1e-3
        assert 0 <= a["top1_agreement"] <= 1
        assert a["compared_on"] == "logits" and a["accuracy_images"] == 6


def test_the_record_describes_machine_versions_exports_and_the_outputs_exist(record):
    record, out = record
    assert record["versions"]["tensorflow"] and record["versions"]["onnxruntime"]
    assert "ai-edge-litert" in record["versions"] and "openvino" in record["versions"]
    assert record["peak"]["fp32_lanes"] in (4, 8, 16) and record["peak"]["cores"] >= 1
    assert set(record["exports"]) == {"tflite_f32", "onnx"}
    assert all(e["error"] is None and e["size_bytes"] > 0 for e in record["exports"].values())
    assert record["batch_norm_layers"] > 0
    markdown = open(f"{out}.md").read()
    assert "## batch 1, 1 thread" in markdown and "## batch 2, 1 thread" in markdown
    assert os.path.getsize(f"{out}.png") > 1000


def test_ratios_and_throughput_come_from_the_medians_and_keras_is_always_timed():
    deploy = load_application("benchmark_deploy")
    peak = deploy.cpu_peak()
    cells = deploy.finish_cells([
        {"runtime": "keras", "batch": 1, "threads": 1, "ms": 4.0},
        {"runtime": "onnx", "batch": 1, "threads": 1, "ms": 2.0}], 1e9, peak)
    assert [c["ratio_vs_keras"] for c in cells] == [1.0, 0.5]
    assert cells[1]["img_s"] == 500.0 and cells[1]["gflop_s"] == 500.0
    args = deploy.parse_args(["--runtimes", "onnx"])
    assert args.runtimes == ["keras", "onnx"]  # the baseline is always timed


def test_an_export_process_that_dies_becomes_a_row_saying_why():
    deploy = load_application("benchmark_deploy")
    assert deploy.export_process_failure(-9) == (
        "export failed: its process exited with status -9 (SIGKILL: on Linux usually the "
        "kernel's out-of-memory killer; see dmesg)")
    assert deploy.export_process_failure(1) == "export failed: its process exited with status 1"
