"""An ONNX model of the Keras model (tf2onnx), checked with onnxruntime.

    export_onnx(model, "seresnext50.onnx")

Input `inputs`: the model's own input (normalised float32 [batch, H, W, 3], NHWC); output
`outputs`: the model's output. Needs the `export` extra (tf2onnx, onnxruntime).

The graph (`onnx_model`, which the OpenVINO exporter converts too) is NCHW inside, as ONNX
convolutions are: one Transpose after the input, and

- grouped convolutions as single `Conv` nodes with `group` (the zoo's `GroupedConv2D`
  traced "native"): tf2onnx converts TensorFlow's grouped Conv2D into one, where the "split"
  form became one Conv per channel slice, with Split / Concat around them (SE-ResNeXt-26d:
  199 Conv and 201 Transpose nodes, against 31 and 17);
- each SE gate multiplied in NCHW (`gates_in_nchw`): TensorFlow's `s[:, None, None, :]`
  becomes Slice -> Unsqueeze, which tf2onnx's optimizer does not push its layout
  transposes through, so every SE block kept Transpose(NHWC) -> Mul -> Transpose(NCHW)
  around the full feature map (32 of SE-ResNet-50's 33 Transposes). OpenVINO runs them as
  they are: rewritten, its float32 SE-ResNet-50 at 224 px (2 threads) took 0.73x the time
  at batch 1 and 0.68x at batch 8; ONNX Runtime's own optimizer removes them already, and
  its times stayed within the run-to-run noise (about 10% on a loaded 2-core machine).
"""

import collections
import time

import numpy as np

from keras_senet import atomic
from keras_senet.export import verification
from keras_senet.export.model_facts import weights_bytes
from keras_senet.export.output import check_output
from keras_senet.export.report import ExportError, ExportReport
from keras_senet.export.tracing import inference_model, model_function, tensorflow_backend

TO_NHWC, TO_NCHW = (0, 2, 3, 1), (0, 3, 1, 2)


def inline_captured_constants(proto, concrete):
    """Turns the ONNX inputs that tf2onnx made of constant tensors the traced function
    captured (not variables: e.g. a `Normalization` layer's mean and variance, the CIFAR
    networks' first layer) back into initializers, leaving `inputs` the only input."""
    from onnx import numpy_helper

    constants = {internal.name: external for external, internal in concrete.graph.captures
                 if external.dtype.name != "resource"}
    kept = []
    for graph_input in proto.graph.input:
        value = constants.get(graph_input.name)
        if value is None:
            kept.append(graph_input)
        else:
            proto.graph.initializer.append(
                numpy_helper.from_array(np.asarray(value), graph_input.name))
    del proto.graph.input[:]
    proto.graph.input.extend(kept)


def _perm(node):
    return next((tuple(a.ints) for a in node.attribute if a.name == "perm"), None)


def _ranks(proto):
    """{tensor name: rank} for the tensors whose rank ONNX shape inference knows."""
    from onnx import shape_inference

    graph = shape_inference.infer_shapes(proto).graph
    ranks = {v.name: len(v.type.tensor_type.shape.dim)
             for v in [*graph.value_info, *graph.input, *graph.output]
             if v.type.tensor_type.HasField("shape")}
    ranks.update((init.name, len(init.dims)) for init in proto.graph.initializer)
    return ranks


def gates_in_nchw(proto):
    """Rewrites, in place, each Transpose(NCHW -> NHWC) -> Mul(x, gate) -> Transpose(NHWC ->
    NCHW) with a rank-4 `gate` (an SE block's (B, 1, 1, C)) into Mul(x, Transpose(gate)):
    the multiply in NCHW, only the (B, 1, 1, C) gate transposed. Broadcasting commutes with
    permuting the axes of both operands, so the result is the same.

    Returns:
        The number of multiplies rewritten.
    """
    nodes = list(proto.graph.node)
    producer = {name: node for node in nodes for name in node.output}
    consumers = collections.defaultdict(list)
    for node in nodes:
        for name in node.input:
            consumers[name].append(node)
    graph_outputs = {output.name for output in proto.graph.output}
    ranks = _ranks(proto)

    def nhwc_input(mul):
        """(side, the Transpose to NHWC feeding `mul` there), or None."""
        for side in (0, 1):
            node = producer.get(mul.input[side])
            if (node is not None and node.op_type == "Transpose" and _perm(node) == TO_NHWC
                    and len(consumers[node.output[0]]) == 1
                    and ranks.get(mul.input[1 - side]) == 4):
                return side, node
        return None

    from onnx import helper

    rewritten, dropped, order = 0, set(), []
    for node in nodes:
        found = nhwc_input(node) if node.op_type == "Mul" and len(node.input) == 2 else None
        after = consumers[node.output[0]] if found else []
        if not (found and len(after) == 1 and after[0].op_type == "Transpose"
                and _perm(after[0]) == TO_NCHW and node.output[0] not in graph_outputs
                and after[0].output[0] not in graph_outputs):
            order.append(node)
            continue
        side, to_nhwc = found
        to_nchw = after[0]
        gate = node.input[1 - side]
        gate_nchw = f"{node.name or node.output[0]}/gate_nchw"
        order.append(helper.make_node("Transpose", [gate], [gate_nchw], perm=list(TO_NCHW),
                                      name=gate_nchw))
        node.input[side], node.input[1 - side] = to_nhwc.input[0], gate_nchw
        for consumer in consumers[to_nchw.output[0]]:
            for k, name in enumerate(consumer.input):
                if name == to_nchw.output[0]:
                    consumer.input[k] = node.output[0]
        dropped.update((id(to_nhwc), id(to_nchw)))
        order.append(node)
        rewritten += 1
    del proto.graph.node[:]
    proto.graph.node.extend(node for node in order if id(node) not in dropped)
    return rewritten


def import_tf2onnx(purpose="ONNX export"):
    """The `tf2onnx` module; ImportError with the install hint when it is missing."""
    try:
        import tf2onnx
    except ImportError as e:
        raise ImportError(
            f"{purpose} needs the `tf2onnx` package: pip install 'keras-senet[export]' "
            f"(or pip install tf2onnx onnxruntime). ({e})") from None
    return tf2onnx


def onnx_model(model, *, opset=17, fold_bn=True, log=None):
    """The model as an ONNX ModelProto (see the module docstring), and the Keras model traced
    (BatchNorms folded with `fold_bn`).

    Returns:
        (onnx.ModelProto with input `inputs` [batch, H, W, C] and output `outputs`, the
        traced Keras model).

    Raises:
        ExportError: tracing or tf2onnx failed.
    """
    tf2onnx = import_tf2onnx()
    traced = inference_model(model, fold_bn, log)
    module, concrete = model_function(traced, grouped_convolutions="native")
    try:
        proto, _ = tf2onnx.convert.from_function(
            module.serve, input_signature=concrete.structured_input_signature[0], opset=opset)
    except Exception as e:
        raise ExportError(f"tf2onnx failed for {model.name!r}: {e}") from e
    inline_captured_constants(proto, concrete)
    gates_in_nchw(proto)
    return proto, traced


def export_onnx(model, path, *, opset=17, verify=True, overwrite=False, atol=None,
                fold_bn=True, log=print):
    """Writes an ONNX model (tf2onnx) and checks it with onnxruntime (input and output:
    the model's, see the module docstring). `opset`: the ONNX opset to target.
    `fold_bn`: trace the model with its BatchNorms folded into the convolutions.
    `verify` / `atol`: as for a float32 `export_tflite` (relative error at most
    `VERIFY_RTOL` on natural-looking images, or `max abs diff <= atol` when `atol` is given).

    Returns:
        An `ExportReport`.
    """
    tensorflow_backend()
    import_tf2onnx()
    start = time.perf_counter()
    log = log or (lambda message: None)
    target = check_output(path, "onnx", overwrite=overwrite)
    with atomic.staging_dir(target, temporary_files=True) as stage:
        proto, traced = onnx_model(model, opset=opset, fold_bn=fold_bn, log=log)
        content = proto.SerializeToString()
        diff = relative = None
        if verify:
            try:
                import onnxruntime
            except ImportError:
                raise ImportError(
                    "Verifying an ONNX export needs `onnxruntime`: pip install onnxruntime, or "
                    "pass verify=False (--no-verify).") from None
            session = onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
            x = verification.sample_batch(model)
            got = session.run(None, {session.get_inputs()[0].name: x})[0]
            diff, relative, _ = verification.compare(
                "ONNX", got, model.predict(x, verbose=0), atol=atol, log=log)
        stage.publish_bytes(content, overwrite=overwrite)
    report = ExportReport(target, "onnx", len(content), weights_bytes(traced),
                          time.perf_counter() - start, diff, relative_diff=relative)
    log(f"ONNX written to {path} ({report.size_bytes / 1e6:.1f} MB) in {report.seconds:.1f} s"
        + ("; verified" if verify else ""))
    return report
