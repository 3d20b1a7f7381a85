"""The benchmark harness end to end on a tiny model (no timing is asserted)."""

import json

import pytest

from keras_senet import benchmark
from keras_senet.commands import bench
from tests.programs import load_application


def test_parse_model_strings():
    assert benchmark.parse_model("seresnet50") == benchmark.Candidate(
        "seresnet50", "senet", "seresnet50", None)
    assert benchmark.parse_model("keras:ResNet50@xla").option == "xla"
    timm = benchmark.parse_model("timm:seresnet50@compile")
    assert (timm.kind, timm.name, timm.option) == ("timm", "seresnet50", "compile")
    with pytest.raises(ValueError, match="Unknown model name 'seresnet5'"):
        benchmark.parse_model("seresnet5")
    with pytest.raises(ValueError, match="unknown option @compile"):
        benchmark.parse_model("seresnet50@compile")


def test_settings_are_checked():
    with pytest.raises(ValueError, match="precision must be one of"):
        benchmark.BenchSettings(precision="fp8")
    with pytest.raises(ValueError, match="positive"):
        benchmark.BenchSettings(batch_sizes=(0,))


def test_bench_writes_json_markdown_and_chart(tmp_path):
    """`keras-senet bench` on seresnet18 at 32x32 beside keras ResNet50, one repeat."""
    import argparse

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    out = tmp_path / "tiny"
    args = parser.parse_args([
        "seresnet18", "keras:ResNet50", "--input-size", "32", "--batch-sizes", "2",
        "--train-batch-sizes", "2", "--repeats", "1", "--warmup", "0",
        "--min-repeat-s", "0", "--classes", "10", "--out", str(out)])
    assert bench.run(args) == 0

    record = json.loads((tmp_path / "tiny.json").read_text())
    assert record["versions"]["keras_backend"] == "tensorflow"
    assert record["settings"]["input_size"] == 32 and record["baseline"] == "seresnet18"
    assert record["machine"]["cpu_count"] >= 1
    rows = {(r["model"], r["mode"], r["batch"]): r for r in record["results"]}
    assert set(rows) == {(m, mode, 2) for m in ("seresnet18", "keras:ResNet50")
                         for mode in ("infer", "train")}
    for row in rows.values():
        assert row["img_s"] > 0 and row["ms"] > 0 and len(row["ms_repeats"]) == 1
        assert row["img_s_min"] <= row["img_s"] <= row["img_s_max"]
        assert row["mfu"] is None  # no --peak-tflops
    assert rows[("seresnet18", "infer", 2)]["time_ratio"] == 1.0
    built = record["models"]["seresnet18"]
    assert built["params"] > 1e6 and built["macs"] > 0 and built["build_s"] > 0

    markdown = (tmp_path / "tiny.md").read_text()
    assert "**inference, batch 2**" in markdown and "**training step, batch 2**" in markdown
    assert f"| seresnet18 | {rows[('seresnet18', 'infer', 2)]['img_s']:,.1f} |" in markdown
    assert "| keras:ResNet50 | 0.0" not in markdown  # build table: params in millions
    pytest.importorskip("matplotlib")
    assert (tmp_path / "tiny.png").read_bytes()[:4] == b"\x89PNG"


def test_mfu_counts_two_flops_per_multiply_add():
    # 4 GMACs at 1000 img/s = 8 TFLOP/s, on a 100 TFLOP/s device: 8 %; training: 3 passes.
    assert benchmark._mfu(4e9, 1000, "infer", 100) == pytest.approx(0.08)
    assert benchmark._mfu(4e9, 1000, "train", 100) == pytest.approx(0.24)
    assert benchmark._mfu(None, 1000, "infer", 100) is None


def test_every_lever_keeps_the_models_outputs(tmp_path):
    """applications/benchmark_levers.py swaps one op for an equivalent one: same logits
    (except ~no_se, which removes SE on purpose), and writes its table."""
    import keras
    import numpy as np

    from tests.batch_norm_utils import randomise_batch_norm

    levers = load_application("benchmark_levers")

    settings = benchmark.BenchSettings(batch_sizes=(1,), input_size=32, classes=10)
    candidate = benchmark.parse_model("seresnext26d_32x4d")
    shipped = benchmark.KerasRunner(candidate, settings)
    shipped.build()
    randomise_batch_norm(shipped.model)  # else folding BN would be an identity
    x = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(shipped.model(x))
    for variant in levers.VARIANTS:
        runner = levers.VariantRunner(candidate, settings, variant)
        runner.build(weights=shipped.model.get_weights())
        got = keras.ops.convert_to_numpy(runner.model(x))
        if variant == "no_se":
            assert not np.allclose(got, expected, atol=1e-3)
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5, err_msg=variant)

    levers.main(["seresnext26d_32x4d", "seresnext26d_32x4d~groups_native", "--input-size", "32",
                 "--repeats", "1", "--min-repeat-s", "0", "--out", str(tmp_path / "levers")])
    table = (tmp_path / "levers.md").read_text()
    assert "| seresnext26d_32x4d~groups_native | 1 |" in table
    assert json.loads((tmp_path / "levers.json").read_text())["settings"]["input_size"] == 32


def test_grouped_conv_profile_writes_every_stage(tmp_path):
    """applications/profile_grouped_conv.py: four ops per ResNeXt-50 stage, timed together."""
    profile = load_application("profile_grouped_conv")
    profile.main(["--batch-sizes", "1", "--repeats", "1", "--min-repeat-s", "0",
                  "--threads", "2", "--out", str(tmp_path / "profile")])
    rows = json.loads((tmp_path / "profile.json").read_text())["results"]
    assert [(r["stage_hw"], r["op"]) for r in rows] == [
        (hw, op) for hw, *_ in profile.STAGES
        for op in ("grouped native", "grouped split", "grouped split merged",
                   "ResNet-50 dense 3x3")]
    assert all(r["ms"] > 0 and r["gflops_per_s"] > 0 for r in rows)
    # ResNeXt's grouped 3x3 has 1/8 of the dense 3x3's multiply-adds at every stage
    for hw, *_ in profile.STAGES:
        grouped, dense = (r["gmacs"] for r in rows if r["stage_hw"] == hw
                          and r["op"] in ("grouped split", "ResNet-50 dense 3x3"))
        assert abs(dense / grouped - 8) < 1e-9
    assert "batch 1, all 16 blocks:" in (tmp_path / "profile.md").read_text()


def test_conv_gradient_profile_times_both_backends_at_every_stage(tmp_path):
    """applications/profile_conv_gradients.py: a training step's three convolutions per CIFAR
    stage, TensorFlow beside XLA:CPU in one process."""
    pytest.importorskip("jax")
    profile = load_application("profile_conv_gradients")
    rows = profile.main(["--batch-size", "2", "--repeats", "1", "--min-repeat-s", "0",
                         "--out", str(tmp_path / "conv")])
    assert [(r["stage_hw"], r["channels"], r["op"]) for r in rows] == [
        (hw, c, op) for hw, c in profile.STAGES
        for op in ("forward", "input gradient", "filter gradient")]
    for r in rows:
        assert r["tensorflow_ms"] > 0 and r["jax_ms"] > 0
        assert r["jax_over_tensorflow"] == pytest.approx(r["jax_ms"] / r["tensorflow_ms"])
    assert json.loads((tmp_path / "conv.json").read_text())["results"] == rows
    assert "| 32x32, 16 | filter gradient |" in (tmp_path / "conv.md").read_text()
