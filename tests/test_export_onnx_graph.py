"""The ONNX graph keras_senet.export writes (and converts to OpenVINO): grouped convolutions
as single grouped `Conv` nodes, SE gates multiplied in NCHW without layout transposes around
the feature map (`keras_senet/export/onnx.py`)."""

import collections

import numpy as np
import pytest

pytest.importorskip("tf2onnx")
onnx = pytest.importorskip("onnx")
tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

import keras_senet  # noqa: E402
from keras_senet.export import onnx as onnx_export  # noqa: E402

TO_NHWC, TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


def op_counts(proto):
    return collections.Counter(node.op_type for node in proto.graph.node)


def conv_groups(proto):
    """The `group` of every Conv node (1 where the attribute is absent)."""
    return [next((a.i for a in node.attribute if a.name == "group"), 1)
            for node in proto.graph.node if node.op_type == "Conv"]


def transposes_to_nhwc(proto):
    return [node for node in proto.graph.node
            if node.op_type == "Transpose" and list(node.attribute[0].ints) == TO_NHWC]


def test_grouped_convolutions_become_single_grouped_conv_nodes():
    model = keras_senet.create_model("seresnext26d_32x4d", weights=None,
                                     input_shape=(32, 32, 3), classes=10)
    grouped = [layer for layer in model._flatten_layers()
               if isinstance(layer, keras.layers.Conv2D) and layer.groups > 1]
    assert len(grouped) == 8 and {layer.groups for layer in grouped} == {32}

    proto, _ = onnx_export.onnx_model(model)
    assert sorted(g for g in conv_groups(proto) if g > 1) == [32] * len(grouped)
    assert op_counts(proto)["Split"] == 0  # no per-group slices of the feature maps
    assert op_counts(proto)["Conv"] == len([layer for layer in model._flatten_layers()
                                            if isinstance(layer, keras.layers.Conv2D)])
    assert transposes_to_nhwc(proto) == []  # SE gates multiply in NCHW
    assert [i.name for i in proto.graph.input] == ["inputs"]
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim][1:] == \
        [32, 32, 3]  # the public input stays NHWC


def test_se_blocks_keep_no_layout_transposes_around_the_feature_map():
    model = keras_senet.create_model("seresnet18", weights=None, input_shape=(64, 64, 3),
                                     classes=10)
    proto, _ = onnx_export.onnx_model(model)
    se_blocks = [layer for layer in model._flatten_layers()
                 if type(layer).__name__ == "SqueezeExcite"]
    assert len(se_blocks) == 8
    assert transposes_to_nhwc(proto) == []
    # What is left: the input's NHWC -> NCHW and one per SE gate, on (B, 1, 1, C).
    assert op_counts(proto)["Transpose"] == 1 + len(se_blocks)
    assert op_counts(proto)["Mul"] == len(se_blocks)


def gate_graph(gate_shape):
    """y = Transpose(Transpose(x, NHWC) * gate, NCHW) + x, x: (2, 4, 3, 3) NCHW."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["x_nhwc"], perm=TO_NHWC),
        helper.make_node("Mul", ["gate", "x_nhwc"], ["scaled"]),
        helper.make_node("Transpose", ["scaled"], ["scaled_nchw"], perm=TO_NCHW),
        helper.make_node("Add", ["scaled_nchw", "x"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "gate",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 3, 3]),
         helper.make_tensor_value_info("gate", TensorProto.FLOAT, gate_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4, 3, 3])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def run(proto, feeds):
    onnxruntime = pytest.importorskip("onnxruntime")
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def test_gates_in_nchw_rewrites_a_rank_4_gate_to_the_same_result():
    rng = np.random.default_rng(0)
    feeds = {"x": rng.normal(size=(2, 4, 3, 3)).astype("float32"),
             "gate": rng.uniform(size=(2, 1, 1, 4)).astype("float32")}
    proto = gate_graph([2, 1, 1, 4])
    expected = run(proto, feeds)
    assert onnx_export.gates_in_nchw(proto) == 1
    onnx.checker.check_model(proto)
    assert transposes_to_nhwc(proto) == []
    assert [n.op_type for n in proto.graph.node] == ["Transpose", "Mul", "Add"]
    assert list(proto.graph.node[0].input) == ["gate"]  # only the gate is transposed
    np.testing.assert_allclose(run(proto, feeds), expected, rtol=1e-6)


def test_gates_in_nchw_leaves_a_gate_of_unknown_or_lower_rank_alone():
    for gate_shape in ([4], None):  # per channel, or unknown
        proto = gate_graph(gate_shape)
        before = proto.SerializeToString()
        assert onnx_export.gates_in_nchw(proto) == 0
        assert proto.SerializeToString() == before
