"""The converted-weights cache: a reference checkpoint converted once to Keras layout.

`cache_dir()/converted/<arch>.<tag>.safetensors` holds {Keras variable path: array} and
records, in its header, the sha256 of the file it was converted from; it is used only for
that file, so a changed, missing or damaged source or converted file is never trusted.
"""

import os

from keras_senet.weights.checkpoint_io import read_safetensors, write_safetensors
from keras_senet.weights.fetch import cache_dir, file_lock

CONVERTED_FORMAT = "keras_senet.v1"


def converted_path(source):
    """Where the Keras-layout conversion of the row `source` is cached."""
    return os.path.join(cache_dir(), "converted", f"{source.full_name}.safetensors")


def read_converted(source, source_sha256):
    """The cached {Keras variable path: array} of `source` if it was converted from the file
    whose sha256 is `source_sha256`; None when absent, unreadable, or from another file."""
    path = converted_path(source)
    if not os.path.exists(path):
        return None
    try:
        tensors, metadata = read_safetensors(path)
    except (OSError, ValueError):
        return None
    if (metadata.get("format") != CONVERTED_FORMAT
            or metadata.get("source_sha256") != source_sha256):
        return None
    return tensors


def write_converted(source, source_sha256, tensors):
    """Caches {Keras variable path: array}, converted from the file whose sha256 is
    `source_sha256`, atomically (a killed run leaves no file under the cached name)."""
    write_safetensors(converted_path(source), tensors, {
        "format": CONVERTED_FORMAT, "source": source.url, "source_sha256": source_sha256})


def converted_weights(source, source_sha256, convert):
    """The cached conversion of `source` when it records `source_sha256`, else `convert()`
    ({Keras variable path: array}) written to the cache; under a lock, so concurrent loads
    convert once."""
    with file_lock(converted_path(source)):
        tensors = read_converted(source, source_sha256)
        if tensors is None:
            tensors = convert()
            write_converted(source, source_sha256, tensors)
    return tensors
