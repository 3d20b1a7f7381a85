"""Where an export goes, and the one check that refuses an existing output unless overwrite.

    target = check_output("serving/m", "saved_model", version=1)   # "serving/m/1"
    with atomic.staging_dir(target, temporary_files=True) as stage:
        ...                                                         # write inside stage.path
        stage.publish(saved, overwrite=overwrite)

Every exporter calls `check_output` before any work (a TFLite conversion of a large model
takes minutes), and so does the command line before it builds the model. Writing is
`keras_senet.atomic.staging_dir`: readers see the whole export under its name or nothing.
"""

import os

FORMATS = ("saved_model", "tflite", "onnx", "openvino")
# The file suffix a file format's output must have, where its exporter relies on it: an
# OpenVINO IR is NAME.xml with its weights in NAME.bin (`weights_file`).
SUFFIXES = {"openvino": ".xml"}


def weights_file(xml_path):
    """The .bin beside an OpenVINO IR's .xml, where OpenVINO looks for it: same stem."""
    return os.path.splitext(os.fspath(xml_path))[0] + ".bin"


def export_dir(path, version):
    """The SavedModel directory: `path`, or `path/<version>` (TF Serving's layout)."""
    path = os.fspath(path)
    if version is None:
        return path
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ValueError(
            f"`version` must be a non-negative int (TF Serving reads numeric version "
            f"directories); got {version!r}.")
    return os.path.join(path, str(version))


def check_output(path, format, *, overwrite=False, version=None):
    """Refuses an output that exists, unless `overwrite`, and one of the wrong kind.

    A SavedModel is a directory: an empty one is used as it is, a non-empty one only with
    `overwrite`, a file never. A TFLite / ONNX export is a file: an existing one only with
    `overwrite`, a directory never. An OpenVINO IR is a .xml file and the .bin beside it
    (`weights_file`): the path must end in .xml, and either existing is refused without
    `overwrite`.

    Args:
        path: the export's file or directory (for a SavedModel with `version`, its parent).
        format: one of `FORMATS`.
        overwrite: replace an existing output.
        version: a SavedModel's version (`path/<version>`), or None.

    Returns:
        The path the export writes (`path/<version>` for a versioned SavedModel).

    Raises:
        ValueError: naming the output and what to pass instead.
    """
    if format not in FORMATS:
        raise ValueError(f"Unknown export format {format!r}; expected one of {FORMATS}.")
    if format == "saved_model":
        target = export_dir(path, version)
        if os.path.isfile(target):
            raise ValueError(f"{target} is a file; a SavedModel is a directory: give a "
                             "directory path.")
        if os.path.isdir(target) and os.listdir(target) and not overwrite:
            raise ValueError(
                f"{target} exists and is not empty; pass overwrite=True (--overwrite) to replace "
                "it, or give another path" + (" or version." if version is not None else "."))
        return target
    target = os.fspath(path)
    suffix = SUFFIXES.get(format)
    if suffix and not target.endswith(suffix):
        raise ValueError(f"Format {format!r} writes a {suffix} file; got {target!r}: give a "
                         f"path ending in {suffix}.")
    outputs = [target, weights_file(target)] if format == "openvino" else [target]
    for output in outputs:
        if os.path.isdir(output):
            raise ValueError(f"{output} is a directory; format {format!r} writes a file: give "
                             "a file path.")
        if os.path.exists(output) and not overwrite:
            raise ValueError(f"{output} exists; pass overwrite=True (--overwrite) to replace "
                             "it, or give another path.")
    return target
