"""Score a folder of images with an exported detector alone: no keras_oneclass, no Keras.

    python examples/serve.py --artifact m.onnx --images DIR          # ONNX Runtime
    python examples/serve.py --artifact m.tflite --images DIR        # LiteRT
    python examples/serve.py --artifact m_savedmodel --images DIR    # TensorFlow SavedModel

The artifact comes from ``model.export(...)`` or ``keras-oneclass export``. Its ``serve`` endpoint
takes float32 images (N, H, W, C) in [0, 1] and returns ``score`` (N,), ``anomaly_map`` (N, H, W) for
the detectors that localise, and ``is_anomaly`` (N,) when the model was calibrated. Images are read
with Pillow, converted to grey or RGB as the artifact expects and resized (bilinear) to its size; an
image already at that size is read as it is. Prints one line per image: file, score, flag.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def open_artifact(path: Path):
    """(run(images) -> dict of numpy arrays, input shape (H, W, C)) for a SavedModel, .onnx or .tflite."""
    if path.suffix.lower() == ".onnx":
        import onnxruntime

        ort = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = ort.get_inputs()[0]
        names = [output.name for output in ort.get_outputs()]
        return (lambda images: dict(zip(names, ort.run(names, {feed.name: images})))), tuple(feed.shape[1:])
    if path.suffix.lower() == ".tflite":
        from ai_edge_litert.interpreter import Interpreter

        runner = Interpreter(model_path=str(path)).get_signature_runner("serve")
        name, details = next(iter(runner.get_input_details().items()))
        batch = int(details["shape"][0])  # LiteRT artifacts take a fixed batch (1)

        def run(images):
            steps = [runner(**{name: images[i:i + batch]}) for i in range(0, len(images), batch)]
            return {key: np.concatenate([step[key] for step in steps]) for key in steps[0]}

        return run, tuple(int(d) for d in details["shape"][1:])
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    spec = loaded.serve.input_signature[0]
    return (lambda images: {k: v.numpy() for k, v in loaded.serve(tf.constant(images)).items()}), tuple(spec.shape[1:])


def read_image(file: Path, shape) -> np.ndarray:
    height, width, channels = shape
    image = Image.open(file).convert("L" if channels == 1 else "RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    return pixels.reshape(height, width, channels)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifact", required=True, type=Path, help="SavedModel folder, .onnx or .tflite")
    parser.add_argument("--images", required=True, type=Path, help="a folder of images")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)
    files = sorted(p for p in args.images.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        print(f"serve.py: error: no images in {str(args.images)!r}", file=sys.stderr)
        return 1
    run, shape = open_artifact(args.artifact)
    if len(shape) != 3:
        print(f"serve.py: error: this artifact takes samples of shape {shape}, not images", file=sys.stderr)
        return 1
    print("file,score,flag")
    for start in range(0, len(files), args.batch_size):
        batch = files[start:start + args.batch_size]
        outputs = run(np.stack([read_image(f, shape) for f in batch]))
        flags = outputs.get("is_anomaly")
        for i, file in enumerate(batch):
            flag = "" if flags is None else int(flags[i])
            print(f"{file.relative_to(args.images)},{outputs['score'][i]:.8g},{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
