"""What BatchNorm folding removes from the TensorFlow inference graph, op by op.

Traces the model (batch 1, inference) with and without `keras_senet.folding.fold_batch_norm`,
runs TensorFlow's graph optimiser (Grappler, default options) on both and counts the ops:

    PYTHONPATH=. python applications/inspect_folded_graph.py seresnet50 --size 224
"""

import argparse
import collections
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

OPS = ("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "BiasAdd", "Mul", "AddV2", "Sub",
       "Rsqrt", "Relu")


def optimised_op_counts(model):
    """{op type: count} of the model's inference graph after Grappler (functions included)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.grappler import tf_optimizer

    spec = tf.TensorSpec([1, *model.inputs[0].shape[1:]], model.inputs[0].dtype)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    meta_graph = tf.compat.v1.train.export_meta_graph(
        graph_def=concrete.graph.as_graph_def(), graph=concrete.graph)
    meta_graph.collection_def["train_op"].node_list.value.extend(
        t.name for t in concrete.outputs)  # the fetches Grappler must keep
    graph = tf_optimizer.OptimizeGraph(config_pb2.ConfigProto(), meta_graph)
    counts = collections.Counter(node.op for node in graph.node)
    for function in graph.library.function:
        counts.update(node.op for node in function.node_def)
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="registry name, e.g. seresnet50")
    parser.add_argument("--size", type=int, default=224, help="input height = width")
    args = parser.parse_args(argv)

    import keras_senet
    from keras_senet.folding import fold_batch_norm

    model = keras_senet.create_model(args.model, input_shape=(args.size, args.size, 3),
                                     classifier_activation=None)
    folded, count = fold_batch_norm(model)
    kept_ops, folded_ops = optimised_op_counts(model), optimised_op_counts(folded)
    lines = [f"{args.model} at {args.size}x{args.size}: {count} BatchNorm layers folded",
             "", "| op | BatchNorm kept | folded |", "|---|---:|---:|"]
    lines += [f"| {op} | {kept_ops[op]} | {folded_ops[op]} |" for op in OPS
              if kept_ops[op] or folded_ops[op]]
    print("\n".join(lines))
    return kept_ops, folded_ops


if __name__ == "__main__":
    main()
