"""Plain PyTorch training-throughput references for the GPU benchmark suite.

Three networks, each trained with a hand-written loop on data already on the device:

- ``dense_autoencoder``: DASVDD's MNIST autoencoder as in the authors' code, 784-1024-256-1024-784,
  LeakyReLU, sigmoid output, MSE, Adam 1e-3, batch 128.
- ``conv_autoencoder``: a 256x256x1 convolutional autoencoder, four 4x4 stride-2 convolutions
  32-64-128-256 (ReLU) and four 4x4 stride-2 transposed convolutions back to one sigmoid channel,
  MSE, Adam 1e-3, batch 128.
- ``deep_svdd_lenet``: Deep SVDD's CIFAR-10 LeNet encoder (Ruff et al. 2018: three 5x5 convolutions
  32-64-128 without bias, BatchNorm eps 1e-4 without affine, leaky ReLU, 2x2 max pooling, then a
  bias-free 2048 -> 128 linear layer), one-class loss mean ||phi(x) - c||^2, Adam 1e-4 (weight
  decay 1e-6 as in the authors' code), batch 200.

Every function takes ``precision``: ``"float32"`` (TF32 matmuls / convolutions allowed on CUDA),
``"float16"`` (autocast + GradScaler) or ``"bfloat16"`` (autocast), and ``channels_last`` for the
convolutional nets. Timing: one warm-up epoch, then ``epochs`` timed epochs (the device is
synchronised around each), each a fresh shuffle of the data (an on-device permutation and gather,
as a shuffling loader would). Returns a dict with ``images_per_s`` (images of an epoch over the
median epoch time), ``step_ms`` (median epoch time over its steps), ``precision`` and details.

``python -m benchmarks.gpu_torch_reference`` runs the GPU set and prints JSON (reads ``.gpu_data``
when present, otherwise synthetic data: throughput does not depend on pixel values);
``--quick`` runs tiny sizes on the CPU, one timed epoch each (the dense net on 512 images, the conv
net on 8 images of 64x64, the LeNet on 400 images).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
PRECISIONS = ("float32", "float16", "bfloat16")


# --- networks ---------------------------------------------------------------------------------

class DenseAutoencoder(nn.Module):
    """DASVDD's MNIST autoencoder (authors' code): LeakyReLU everywhere but the sigmoid output."""

    def __init__(self, input_dim: int = 784, hidden: int = 1024, code: int = 256):
        super().__init__()
        self.encoder_hidden_layer = nn.Linear(input_dim, hidden)
        self.encoder_output_layer = nn.Linear(hidden, code)
        self.decoder_hidden_layer = nn.Linear(code, hidden)
        self.decoder_output_layer = nn.Linear(hidden, input_dim)

    def forward(self, x):
        x = F.leaky_relu(self.encoder_hidden_layer(x))
        code = F.leaky_relu(self.encoder_output_layer(x))
        x = F.leaky_relu(self.decoder_hidden_layer(code))
        return torch.sigmoid(self.decoder_output_layer(x))


class ConvAutoencoder(nn.Module):
    """Four 4x4 stride-2 convolutions 32-64-128-256 and four transposed ones back to 1 channel."""

    def __init__(self, channels: int = 1, filters=(32, 64, 128, 256)):
        super().__init__()
        encoder, previous = [], channels
        for width in filters:
            encoder += [nn.Conv2d(previous, width, 4, stride=2, padding=1), nn.ReLU(inplace=True)]
            previous = width
        decoder = []
        for width in list(filters[-2::-1]) + [channels]:
            decoder += [nn.ConvTranspose2d(previous, width, 4, stride=2, padding=1),
                        nn.ReLU(inplace=True) if width != channels else nn.Sigmoid()]
            previous = width
        self.encoder, self.decoder = nn.Sequential(*encoder), nn.Sequential(*decoder)

    def forward(self, x):
        return self.decoder(self.encoder(x))


class PackageConvAutoencoder(nn.Module):
    """The package's ``ConvAutoencoder`` defaults: 3 x (conv 3x3 same + ReLU + 2x2 max-pool) with
    32-64-128 filters, then 3 x (2x nearest upsampling + conv 3x3 + ReLU) with 128-64-32, conv 3x3 to
    the input channels, sigmoid."""

    def __init__(self, channels: int = 1, filters=(32, 64, 128)):
        super().__init__()
        layers, previous = [], channels
        for width in filters:
            layers += [nn.Conv2d(previous, width, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            previous = width
        for width in reversed(filters):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(previous, width, 3, padding=1),
                       nn.ReLU(inplace=True)]
            previous = width
        layers += [nn.Conv2d(previous, channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)  # logits: the loss applies the sigmoid (BCE with logits, autocast-safe)


class CIFAR10LeNet(nn.Module):
    """Deep SVDD's CIFAR-10 LeNet encoder (Ruff et al., src/networks/cifar10_LeNet.py)."""

    def __init__(self, rep_dim: int = 128):
        super().__init__()
        self.pool = nn.MaxPool2d(2, 2)
        self.conv1 = nn.Conv2d(3, 32, 5, bias=False, padding=2)
        self.bn2d1 = nn.BatchNorm2d(32, eps=1e-04, affine=False)
        self.conv2 = nn.Conv2d(32, 64, 5, bias=False, padding=2)
        self.bn2d2 = nn.BatchNorm2d(64, eps=1e-04, affine=False)
        self.conv3 = nn.Conv2d(64, 128, 5, bias=False, padding=2)
        self.bn2d3 = nn.BatchNorm2d(128, eps=1e-04, affine=False)
        self.fc1 = nn.Linear(128 * 4 * 4, rep_dim, bias=False)

    def forward(self, x):
        x = self.pool(F.leaky_relu(self.bn2d1(self.conv1(x))))
        x = self.pool(F.leaky_relu(self.bn2d2(self.conv2(x))))
        x = self.pool(F.leaky_relu(self.bn2d3(self.conv3(x))))
        return self.fc1(x.flatten(1))


# --- the timed loop ---------------------------------------------------------------------------

def pick_device(device=None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _to_device(x, device: torch.device, dtype=torch.float32, scale: float | None = None) -> torch.Tensor:
    """numpy / tensor -> float tensor on `device`; uint8 input is scaled to [0, 1] unless `scale`."""
    tensor = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if scale is None:
        scale = 1.0 / 255.0 if tensor.dtype == torch.uint8 else 1.0
    return (tensor.to(device).to(dtype) * scale).contiguous()


def _train(model: nn.Module, x: torch.Tensor, loss_fn, optimizer, batch_size: int, epochs: int,
           warmup: int, precision: str, channels_last: bool, device: torch.device, name: str,
           seed: int = 0) -> dict:
    """One warm-up + `epochs` timed epochs of minibatch training; median epoch time."""
    if precision not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {PRECISIONS}; got {precision!r}.")
    if epochs < 1:
        raise ValueError("`epochs` must be >= 1.")
    amp_dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16}.get(precision)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "float16")
    memory_format = torch.channels_last if channels_last and x.dim() == 4 else torch.contiguous_format
    model.to(device=device, memory_format=memory_format).train()
    if x.dim() == 4:
        x = x.contiguous(memory_format=memory_format)
    n = x.shape[0]
    steps = (n + batch_size - 1) // batch_size  # the last batch may be partial, as a DataLoader's
    generator = torch.Generator(device=device).manual_seed(seed)

    def epoch() -> float:
        order = torch.randperm(n, device=device, generator=generator)
        total = torch.zeros((), device=device)
        for start in range(0, n, batch_size):
            batch = x[order[start:start + batch_size]]
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                loss = loss_fn(model(batch), batch)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total += loss.detach().float()
        return total

    for _ in range(warmup):
        epoch()
    times, loss = [], None
    for _ in range(epochs):
        _sync(device)
        started = time.perf_counter()
        loss = epoch()
        _sync(device)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    return {
        "model": name,
        "images_per_s": n / median,
        "step_ms": 1000.0 * median / steps,
        "precision": precision + ("+tf32" if precision == "float32" and device.type == "cuda"
                                  and torch.backends.cuda.matmul.allow_tf32 else ""),
        "channels_last": memory_format == torch.channels_last,
        "batch_size": batch_size,
        "n_images": n,
        "input_shape": list(x.shape[1:]),
        "steps_per_epoch": steps,
        "epoch_s": [round(t, 5) for t in times],
        "warmup_epochs": warmup,
        "final_epoch_mean_loss": float(loss) / steps,
        "parameters": sum(p.numel() for p in model.parameters()),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
    }


def _configure(device: torch.device, tf32: bool, cudnn_benchmark: bool) -> None:
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = cudnn_benchmark


# --- the three references ---------------------------------------------------------------------

def dense_autoencoder(x, batch_size: int = 128, epochs: int = 3, warmup: int = 1,
                      precision: str = "float32", device=None, tf32: bool = True, seed: int = 0) -> dict:
    """DASVDD's MNIST autoencoder on `x` ((N, 28, 28) or (N, 784); uint8 is scaled to [0, 1])."""
    device = pick_device(device)
    _configure(device, tf32, cudnn_benchmark=True)
    torch.manual_seed(seed)
    data = _to_device(x, device).reshape(len(x), -1)
    model = DenseAutoencoder(input_dim=data.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    return _train(model, data, F.mse_loss, optimizer, batch_size, epochs, warmup, precision,
                  False, device, "dasvdd_dense_autoencoder", seed)


def _image_setup(x, n_images: int, image_size: int, precision: str, channels_last, device, tf32: bool,
                 cudnn_benchmark: bool, seed: int):
    """Seeded set-up of an image benchmark: `x` ((N, H, W, C) NHWC) as an NCHW tensor on the device, or
    `n_images` synthetic 1-channel images; channels_last defaults to True for the mixed precisions."""
    _configure(device, tf32, cudnn_benchmark)
    torch.manual_seed(seed)
    if x is None:
        data = torch.rand((n_images, 1, image_size, image_size), device=device,
                          generator=torch.Generator(device=device).manual_seed(seed))
    else:
        data = _to_device(x, device).permute(0, 3, 1, 2).contiguous()
    return data, precision != "float32" if channels_last is None else channels_last


def conv_autoencoder(x=None, n_images: int = 4096, image_size: int = 256, batch_size: int = 128,
                     epochs: int = 3, warmup: int = 1, precision: str = "float32", channels_last=None,
                     device=None, tf32: bool = True, cudnn_benchmark: bool = True, seed: int = 0) -> dict:
    """The 4-conv autoencoder on `x` ((N, H, W, 1), NHWC like Keras) or on `n_images` synthetic images.

    ``channels_last`` defaults to True for the mixed precisions and False for float32.
    """
    device = pick_device(device)
    data, channels_last = _image_setup(x, n_images, image_size, precision, channels_last, device, tf32,
                                       cudnn_benchmark, seed)
    model = ConvAutoencoder(channels=data.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    return _train(model, data, F.mse_loss, optimizer, batch_size, epochs, warmup, precision,
                  channels_last, device, "conv_autoencoder_4x4s2", seed)


def package_conv_autoencoder(x=None, n_images: int = 4096, image_size: int = 256, batch_size: int = 32,
                             epochs: int = 3, warmup: int = 1, precision: str = "float32", channels_last=None,
                             device=None, tf32: bool = True, cudnn_benchmark: bool = True, seed: int = 0) -> dict:
    """The package's ConvAutoencoder network (PackageConvAutoencoder), binary cross-entropy, Adam 1e-3,
    on `x` ((N, H, W, 1) NHWC in [0, 1]) or on `n_images` synthetic images."""
    device = pick_device(device)
    data, channels_last = _image_setup(x, n_images, image_size, precision, channels_last, device, tf32,
                                       cudnn_benchmark, seed)
    model = PackageConvAutoencoder(channels=data.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def bce(logits, target):
        return F.binary_cross_entropy_with_logits(logits.float(), target.float())

    return _train(model, data, bce, optimizer, batch_size, epochs, warmup, precision,
                  channels_last, device, "package_conv_autoencoder", seed)


def deep_svdd_lenet(x=None, n_images: int = 5000, batch_size: int = 200, epochs: int = 3, warmup: int = 1,
                    precision: str = "float32", channels_last: bool = False, device=None, tf32: bool = True,
                    cudnn_benchmark: bool = True, weight_decay: float = 1e-6, seed: int = 0) -> dict:
    """Deep SVDD (one-class) training of the CIFAR-10 LeNet on `x` ((N, 32, 32, 3)) or synthetic data.

    The centre c is the mean of the initial network's outputs over the data, with coordinates
    closer than 0.1 to zero pushed to +-0.1 (as in the authors' code).
    """
    device = pick_device(device)
    _configure(device, tf32, cudnn_benchmark)
    torch.manual_seed(seed)
    if x is None:
        data = torch.rand((n_images, 3, 32, 32), device=device,
                          generator=torch.Generator(device=device).manual_seed(seed))
    else:
        data = _to_device(x, device).permute(0, 3, 1, 2).contiguous()
    model = CIFAR10LeNet().to(device)
    with torch.no_grad():
        model.eval()
        c = torch.cat([model(data[i:i + batch_size]) for i in range(0, len(data), batch_size)]).mean(0)
        c[(c.abs() < 0.1) & (c < 0)] = -0.1
        c[(c.abs() < 0.1) & (c >= 0)] = 0.1

    def one_class_loss(outputs, _inputs):
        return torch.sum((outputs.float() - c) ** 2, dim=1).mean()

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=weight_decay)
    return _train(model, data, one_class_loss, optimizer, batch_size, epochs, warmup, precision,
                  channels_last, device, "deep_svdd_cifar10_lenet", seed)


# --- command line -----------------------------------------------------------------------------

def _load_gpu_data(name: str):
    """An array set from .gpu_data (``python -m benchmarks.gpu_data``), or None when absent."""
    if not (REPO / ".gpu_data" / f"{name}.npz").is_file():
        return None
    from benchmarks.gpu_data import load

    return load(name)


def run_all(quick: bool = False, device=None, precisions=PRECISIONS) -> list[dict]:
    results = []
    if quick:
        device = device or "cpu"
        rng = np.random.default_rng(0)
        common = dict(epochs=1, warmup=1, device=device)
        mnist = rng.integers(0, 256, (512, 28, 28), dtype=np.uint8)
        results.append(dense_autoencoder(mnist, **common))
        # CPU convolutions are slow (float16 / bfloat16 autocast even more): few images, small batches.
        for precision in precisions:
            results.append(conv_autoencoder(n_images=8, image_size=64, batch_size=8, precision=precision,
                                            **common))
        results.append(deep_svdd_lenet(n_images=400, **common))
        return results
    mnist = _load_gpu_data("mnist")
    x = mnist["x_train"] if mnist is not None else np.random.default_rng(0).integers(0, 256, (60000, 28, 28), np.uint8)
    results.append(dense_autoencoder(x, device=device))
    results[-1]["data"] = "mnist x_train" if mnist is not None else "synthetic"
    for precision in precisions:
        results.append(conv_autoencoder(precision=precision, device=device))
        results[-1]["data"] = "synthetic"
    cifar = _load_gpu_data("cifar10_cat")
    results.append(deep_svdd_lenet(cifar["x_train"] if cifar is not None else None, device=device))
    results[-1]["data"] = "cifar10 cat x_train" if cifar is not None else "synthetic"
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes on the CPU")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    parser.add_argument("--precisions", default=",".join(PRECISIONS),
                        help="conv autoencoder precisions, comma-separated")
    parser.add_argument("--out", default=None, help="also write the JSON to this file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = run_all(args.quick, args.device, tuple(p for p in args.precisions.split(",") if p))
    report = {"results": results, "wall_s": round(time.perf_counter() - started, 2)}
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
