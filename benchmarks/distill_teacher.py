"""Distil the EfficientAD teacher shipped with the package (``keras_oneclass/weights/``).

    python benchmarks/distill_teacher.py --steps 60000 --seconds 3000

reads CIFAR-10's 50,000 training images ($KERAS_ONECLASS_DATA/cifar10/train, the only natural images
offline), distils a PDN from MobileNet (alpha 0.25, ImageNet) with ``distill_teacher``, and writes
``keras_oneclass/weights/<name>.npz`` (float16) and ``.json`` (settings, steps done, seconds, losses).
The paper distils WideResNet-101 on ImageNet for 60,000 steps of batch 16; ``--seconds`` stops early
on a CPU and the .json records how many steps ran.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from keras_oneclass.datasets.image_folder import read_image_folder  # noqa: E402
from keras_oneclass.models.efficientad_teacher import DEFAULT_TEACHER, TEACHERS_DIR, distill_teacher, save_teacher  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="CIFAR-10 root (default $KERAS_ONECLASS_DATA/cifar10)")
    parser.add_argument("--size", default="small", choices=["small", "medium"])
    parser.add_argument("--steps", type=int, default=60_000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(TEACHERS_DIR / DEFAULT_TEACHER))
    args = parser.parse_args(argv)
    root = Path(args.data or Path(os.environ.get("KERAS_ONECLASS_DATA", "../shared/data")) / "cifar10")
    images, _, _ = read_image_folder(root / "train", color_mode="rgb")
    pdn, record = distill_teacher(images, size=args.size, side=args.side, steps=args.steps,
                                  batch_size=args.batch_size, seconds=args.seconds, seed=args.seed, verbose=2)
    record["images"] = f"CIFAR-10 train, {len(images)} images, 32 px upsampled to {args.side}"
    print(save_teacher(pdn, record, args.out), record)


if __name__ == "__main__":
    main()
