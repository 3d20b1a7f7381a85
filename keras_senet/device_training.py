"""CIFAR training with the whole data set on the accelerator (Keras on JAX).

The host pipeline (`array_pipeline`, `fit`) leaves a fast GPU mostly idle on 32x32 images
(5.5 s per ResNet-56 epoch on an H100). Here the uint8 training images (45,000 x 32 x 32 x 3,
about 140 MB) and labels are put on the device once; every step gathers its batch, pads
(reflect, 4 px), crops and flips it inside one jitted function over the model's
`stateless_call`, and applies the optimizer with `stateless_apply`. Several networks train
in one process on the same batches (a plain network and its SE twin: the paired comparison
sees identical inputs).

    data = load_arrays(DataOptions(data_dir="cifar10-train.tar.gz", holdout=500))
    recipe = Recipe(epochs=164, batch_size=512, lr=0.4)
    train_on_device({"resnet110_cifar": m1, "se_resnet110_cifar": m2}, data, recipe, "runs/")

With a `time_budget` the run first times a few steps of every network, then trains for the
most epochs that fit (the learning-rate schedule is laid over that many), and stops early if
the estimate proves wrong. Each network's run directory gets what `applications/train.py`
writes: state.json (history), results.json, val_predictions.npz, final.safetensors, curves.png.
"""

import dataclasses
import json
import math
import os
import time

import numpy as np

from keras_senet.data_pipeline import DataOptions, folder_splits  # noqa: F401 (re-exported)


@dataclasses.dataclass(frozen=True)
class CifarArrays:
    """Decoded images: uint8 (N, S, S, 3) and int32 (N,) labels for each split."""

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    class_names: tuple


@dataclasses.dataclass(frozen=True)
class Recipe:
    """The training recipe shared by every network of a run.

    Attributes:
        epochs: epochs to train (fewer when `time_budget` allows fewer).
        batch_size: images per step (the last partial batch of an epoch is dropped).
        lr: peak learning rate, reached after `warmup_epochs` of linear warm-up, then cosine
            decay to 0 at the last step. Scale it with the batch (0.1 per 128 images is the
            paper's SGD rate).
        warmup_epochs: linear warm-up from 0.
        weight_decay: decoupled, on kernels only (BatchNorm and biases excluded).
        momentum: SGD Nesterov momentum.
        label_smoothing: cross-entropy label smoothing.
        pad: crop padding in pixels; `pad_mode` "reflect" or "constant" (zeros).
        mixed_precision: bfloat16 compute with float32 variables.
        seed: initialisation, data order and augmentation.
    """

    epochs: int = 164
    batch_size: int = 128
    lr: float = 0.1
    warmup_epochs: int = 1
    weight_decay: float = 5e-4
    momentum: float = 0.9
    label_smoothing: float = 0.0
    pad: int = 4
    pad_mode: str = "reflect"
    mixed_precision: bool = False
    seed: int = 0

    def __post_init__(self):
        if self.pad_mode not in ("reflect", "constant"):
            raise ValueError(f"pad_mode={self.pad_mode!r}: expected 'reflect' or 'constant'.")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs={self.epochs} and batch_size={self.batch_size} must be "
                             ">= 1.")


def load_arrays(options):
    """Decodes an image folder (or its .tar.gz) into `CifarArrays` of uint8 pixels.

    The split is `data_pipeline.folder_splits`' (the last `holdout` images of each class
    validate), so predictions line up image by image with `applications/train.py` runs.
    Every image must have the first image's size (no resizing here).
    """
    from PIL import Image

    (train_paths, train_labels), (val_paths, val_labels), names = folder_splits(options)

    def decode(paths):
        images = []
        for path in paths:
            try:
                with Image.open(path) as image:
                    images.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
            except OSError as e:
                raise ValueError(f"Cannot decode image {path}: {e}") from None
            if images[-1].shape != images[0].shape:
                raise ValueError(f"{path} is {images[-1].shape[:2]}, not "
                                 f"{images[0].shape[:2]} like {paths[0]}: device training "
                                 "needs images of one size.")
        return np.stack(images) if images else np.zeros((0, 32, 32, 3), np.uint8)

    return CifarArrays(decode(train_paths), np.asarray(train_labels, np.int32),
                       decode(val_paths), np.asarray(val_labels, np.int32), tuple(names))


def learning_rate(step, total_steps, warmup_steps, peak):
    """Linear warm-up from 0 to `peak` over `warmup_steps`, then cosine decay to 0."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * peak * (1.0 + math.cos(math.pi * min(1.0, progress)))


def augment(images, key, pad, pad_mode):
    """Pads uint8 (B, S, S, 3) by `pad`, crops S x S at random offsets, flips half at
    random; returns float32 pixels in [0, 255] (the CIFAR networks normalise themselves)."""
    import jax
    import jax.numpy as jnp

    batch, size = images.shape[0], images.shape[1]
    padded = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode=pad_mode)
    k_top, k_left, k_flip = jax.random.split(key, 3)
    top = jax.random.randint(k_top, (batch,), 0, 2 * pad + 1)
    left = jax.random.randint(k_left, (batch,), 0, 2 * pad + 1)
    crop = jax.vmap(lambda image, t, l: jax.lax.dynamic_slice(
        image, (t, l, 0), (size, size, images.shape[3])))(padded, top, left)
    flip = jax.random.bernoulli(k_flip, 0.5, (batch,))
    crop = jnp.where(flip[:, None, None, None], crop[:, :, ::-1], crop)
    return crop.astype(jnp.float32)


class DeviceNetwork:
    """One network's jitted train and predict functions and its state as device arrays.

    `model` must output logits (`classifier_activation=None`).
    """

    def __init__(self, name, model, recipe, num_classes):
        import jax
        import jax.numpy as jnp
        import keras

        from keras_senet.training import make_optimizer

        self.name, self.model, self.recipe = name, model, recipe
        self.optimizer = make_optimizer("sgd", 0.0, recipe.weight_decay, model, recipe.momentum)
        self.optimizer.build(model.trainable_variables)
        self._lr_index = next(i for i, v in enumerate(self.optimizer.variables)
                              if v.name == "learning_rate")
        loss_fn = keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=recipe.label_smoothing)

        def train_step(state, images, labels, index, key, lr):
            trainable, non_trainable, opt_vars = state
            x = augment(images[index], key, recipe.pad, recipe.pad_mode)
            y = jax.nn.one_hot(labels[index], num_classes)

            def loss_of(weights):
                logits, updated = model.stateless_call(weights, non_trainable, x, training=True)
                logits = logits.astype(jnp.float32)
                return loss_fn(y, logits), (updated, logits)

            (loss, (non_trainable, logits)), grads = jax.value_and_grad(
                loss_of, has_aux=True)(trainable)
            opt_vars = list(opt_vars)
            opt_vars[self._lr_index] = lr.astype(opt_vars[self._lr_index].dtype)
            trainable, opt_vars = self.optimizer.stateless_apply(opt_vars, grads, trainable)
            correct = jnp.sum(jnp.argmax(logits, -1) == labels[index])
            return (trainable, non_trainable, opt_vars), loss, correct

        def predict_top5(state, images):
            trainable, non_trainable, _ = state
            logits, _ = model.stateless_call(trainable, non_trainable,
                                             images.astype(jnp.float32), training=False)
            logits = logits.astype(jnp.float32)
            return jax.lax.top_k(logits, 5)[1], logits

        self._train_step = jax.jit(train_step, donate_argnums=0)
        self._predict = jax.jit(predict_top5)
        self.state = self.initial_state()

    def initial_state(self):
        """Fresh copies of the model's and optimizer's current values."""
        import jax.numpy as jnp

        copy = lambda variables: [jnp.array(v.value) for v in variables]  # noqa: E731
        return (copy(self.model.trainable_variables),
                copy(self.model.non_trainable_variables), copy(self.optimizer.variables))

    def train_step(self, images, labels, index, key, lr):
        """One optimizer step on `images[index]`; returns (loss, correct) device scalars."""
        import jax.numpy as jnp

        self.state, loss, correct = self._train_step(self.state, images, labels, index, key,
                                                     jnp.float32(lr))
        return loss, correct

    def evaluate(self, images, labels, batch_size):
        """(top-1, top-5, loss, top-5 indices (N, 5)) on device-resident uint8 images."""
        import jax.numpy as jnp

        count = images.shape[0]
        top5, losses = [], []
        for start in range(0, count, batch_size):
            stop = min(start + batch_size, count)
            batch = images[start:stop]
            if stop - start < batch_size:  # one shape, one compilation
                batch = jnp.concatenate([batch, jnp.zeros(
                    (batch_size - (stop - start),) + batch.shape[1:], batch.dtype)])
            indices, logits = self._predict(self.state, batch)
            top5.append(np.asarray(indices)[:stop - start])
            logits = np.asarray(logits)[:stop - start]
            shifted = logits - logits.max(-1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
            truth = np.asarray(labels[start:stop])
            losses.append(-log_probs[np.arange(stop - start), truth])
        top5 = np.concatenate(top5)
        truth = np.asarray(labels)
        return (float(np.mean(top5[:, 0] == truth)),
                float(np.mean(np.any(top5 == truth[:, None], axis=1))),
                float(np.mean(np.concatenate(losses))), top5)

    def store(self):
        """Writes the device state back into the Keras model's variables."""
        trainable, non_trainable, _ = self.state
        for variable, value in zip(self.model.trainable_variables, trainable):
            variable.assign(value)
        for variable, value in zip(self.model.non_trainable_variables, non_trainable):
            variable.assign(value)


def plan_epochs(requested, time_budget, seconds_per_epoch, spent=0.0):
    """The epochs to train: `requested`, or fewer so that they fit in `time_budget - spent`."""
    if time_budget is None:
        return requested
    fit = int((time_budget - spent) // max(seconds_per_epoch, 1e-9))
    if fit < 1:
        raise ValueError(f"One epoch takes about {seconds_per_epoch:.1f} s; the time budget of "
                         f"{time_budget:g} s ({spent:.0f} s already spent) fits none.")
    return min(requested, fit)


def _epoch_indices(key, count, batch_size):
    import jax

    steps = count // batch_size
    order = jax.random.permutation(key, count)[:steps * batch_size]
    return order.reshape(steps, batch_size)


def _probe_seconds_per_epoch(networks, images, labels, steps_per_epoch, batch_size,
                             val_images, val_labels, probe_steps):
    """Compiles every network's step and predict, then times `probe_steps` steps each
    (on throwaway state) and one evaluation; returns the estimated seconds of one epoch."""
    import jax

    key = jax.random.PRNGKey(0)
    index = _epoch_indices(key, images.shape[0], batch_size)[0]
    per_epoch = 0.0
    for network in networks:
        kept = network.state
        network.state = network.initial_state()
        loss, _ = network.train_step(images, labels, index, key, 0.0)  # compiles
        loss.block_until_ready()
        network.evaluate(val_images, val_labels, batch_size)  # compiles
        start = time.perf_counter()
        for _ in range(probe_steps):
            loss, _ = network.train_step(images, labels, index, key, 0.0)
        loss.block_until_ready()
        step_seconds = (time.perf_counter() - start) / probe_steps
        start = time.perf_counter()
        network.evaluate(val_images, val_labels, batch_size)
        per_epoch += step_seconds * steps_per_epoch + time.perf_counter() - start
        network.state = kept
    return per_epoch


def _write_run(run_dir, network, history, config, val, class_names, train_seconds,
               stopped_early):
    from keras_senet import training

    os.makedirs(run_dir, exist_ok=True)
    network.store()
    training.save_tensors(network.model, os.path.join(run_dir, "final.safetensors"))
    top1, top5, loss, top_k = val
    labels = np.asarray(config["val_labels"])
    training.save_predictions(os.path.join(run_dir, "val_predictions.npz"), labels, top_k,
                              class_names)
    state = training.new_state({key: value for key, value in config.items()
                                if key != "val_labels"})
    state["history"] = history
    state["epochs_done"] = {"train": len(history)}
    training.write_json_atomic(os.path.join(run_dir, training.STATE_FILE), state)
    results = {"val_top1": top1, "val_top5": top5, "val_loss": loss, "epochs": len(history),
               "train_seconds": round(train_seconds, 1), "command": config["command"],
               "stopped_early": stopped_early}
    training.write_json_atomic(os.path.join(run_dir, "results.json"), results)
    try:
        training.plot_curves(history, os.path.join(run_dir, "curves.png"), network.name)
    except ImportError:
        pass
    return results


def train_on_device(models, data, recipe, out, time_budget=None, command="", probe_steps=5,
                    log=print):
    """Trains every model of `models` ({name: logits model}) on the same device batches.

    Args:
        models: {run name: Keras model with logits output}, built under the policy wanted.
        data: `CifarArrays`.
        recipe: `Recipe`.
        out: folder; each network writes OUT/<name>/ (see the module docstring).
        time_budget: seconds for the whole call (compilation, training, evaluation, files);
            None trains `recipe.epochs`.
        command: the command line, recorded in each state.json / results.json.
        probe_steps: steps timed per network before the epochs are planned.
        log: where the per-epoch lines go.

    Returns:
        {name: results dict} (val_top1, val_top5, val_loss, epochs, train_seconds, ...).
    """
    import jax
    import jax.numpy as jnp
    import keras

    if keras.backend.backend() != "jax":
        raise ValueError("Device-resident training runs on the JAX backend: set "
                         "KERAS_BACKEND=jax.")
    started = time.perf_counter()
    count = data.train_images.shape[0]
    if count < recipe.batch_size:
        raise ValueError(f"{count} training images are fewer than one batch of "
                         f"{recipe.batch_size}; lower the batch size.")
    num_classes = len(data.class_names)
    images, labels = jnp.asarray(data.train_images), jnp.asarray(data.train_labels)
    val_images, val_labels = jnp.asarray(data.val_images), jnp.asarray(data.val_labels)
    networks = [DeviceNetwork(name, model, recipe, num_classes) for name, model in models.items()]
    steps_per_epoch = count // recipe.batch_size
    epochs = recipe.epochs
    if time_budget is not None:
        per_epoch = _probe_seconds_per_epoch(networks, images, labels, steps_per_epoch,
                                             recipe.batch_size, val_images, val_labels,
                                             probe_steps)
        reserve = 30.0  # final evaluation, weights, curves
        epochs = plan_epochs(recipe.epochs, time_budget - reserve, per_epoch,
                             time.perf_counter() - started)
        log(f"about {per_epoch:.1f} s per epoch for {len(networks)} network(s): "
            f"{epochs} of {recipe.epochs} epochs fit in {time_budget:g} s")
    total_steps = epochs * steps_per_epoch
    warmup_steps = min(total_steps - 1, recipe.warmup_epochs * steps_per_epoch)
    histories = {n.name: [] for n in networks}
    key = jax.random.PRNGKey(recipe.seed)
    train_start, stopped_early, step = time.perf_counter(), False, 0
    for epoch in range(epochs):
        epoch_start = time.perf_counter()
        key, order_key = jax.random.split(key)
        order = _epoch_indices(order_key, count, recipe.batch_size)
        sums = {n.name: [0.0, 0] for n in networks}
        for index in order:
            key, step_key = jax.random.split(key)
            lr = learning_rate(step, total_steps, warmup_steps, recipe.lr)
            for network in networks:
                loss, correct = network.train_step(images, labels, index, step_key, lr)
                sums[network.name][0] += loss
                sums[network.name][1] += correct
            step += 1
        for network in networks:
            top1, _, val_loss, _ = network.evaluate(val_images, val_labels, recipe.batch_size)
            loss_sum, correct = sums[network.name]
            record = {"phase": "train", "epoch": epoch + 1,
                      "seconds": round(time.perf_counter() - epoch_start, 2),
                      "loss": float(loss_sum) / steps_per_epoch,
                      "accuracy": float(correct) / (steps_per_epoch * recipe.batch_size),
                      "val_loss": val_loss, "val_accuracy": top1}
            histories[network.name].append(record)
            log(f"{network.name} epoch {epoch + 1}/{epochs}: loss {record['loss']:.4f}, "
                f"top-1 {record['accuracy']:.4f}, val top-1 {top1:.4f} "
                f"({record['seconds']:.1f} s)")
        elapsed = time.perf_counter() - started
        if time_budget is not None and epoch + 1 < epochs and \
                elapsed + (elapsed / (epoch + 1)) > time_budget:
            log(f"stopping after epoch {epoch + 1}: the next would pass the time budget")
            stopped_early = True
            break
    train_seconds = time.perf_counter() - train_start
    config = {"command": command, "recipe": dataclasses.asdict(recipe),
              "classes": list(data.class_names), "planned_epochs": epochs,
              "val_labels": data.val_labels, "pipeline": "device"}
    results = {}
    for network in networks:
        val = network.evaluate(val_images, val_labels, recipe.batch_size)
        results[network.name] = _write_run(
            os.path.join(out, network.name), network, histories[network.name],
            {**config, "model": network.name}, val, data.class_names, train_seconds,
            stopped_early)
        log(json.dumps({network.name: results[network.name]}))
    return results
