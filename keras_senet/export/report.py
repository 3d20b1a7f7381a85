"""What every exporter returns (`ExportReport`) and raises (`ExportError`)."""

import dataclasses


class ExportError(RuntimeError):
    """The model could not be exported, or the exported file does not match the Keras model."""


@dataclasses.dataclass
class ExportReport:
    """What an exporter wrote and how it checked it.

    Attributes:
        path: the exported file, or the SavedModel directory (`path/<version>` if versioned).
        format: "saved_model", "tflite" or "onnx".
        size_bytes: bytes on disk (the whole directory for a SavedModel).
        weights_bytes: bytes of the model's variables (sum of `nbytes`), the floor for size.
        seconds: wall time of the export, verification included.
        max_abs_diff: largest |exported - Keras| over the verification outputs (None if not
            verified).
        summary: for a SavedModel, its signatures in `saved_model_cli show --all` form.
        relative_diff: TFLite / ONNX: `max_abs_diff / max|Keras outputs|`, the figure the
            verification judges by (None if not verified, and for a SavedModel).
        top1_agreement: a verified int8 TFLite file ("dynamic" or "int8"): the fraction of
            the verification batch whose top-1 class is the Keras model's (else None).
        quantize: a TFLite file's quantisation (`tflite.QUANTIZE`; None: float32).
        calibration_images: a full-integer int8 TFLite file: the images it was calibrated
            on (else None).
    """

    path: str
    format: str
    size_bytes: int
    weights_bytes: int
    seconds: float
    max_abs_diff: float | None = None
    summary: str = ""
    relative_diff: float | None = None
    top1_agreement: float | None = None
    quantize: str | None = None
    calibration_images: int | None = None
