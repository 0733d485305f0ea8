"""The studies ``python -m benchmarks`` runs, by name, each with its one-line summary (modules load on use)."""

STUDIES = {
    "dasvdd_paper": "DASVDD, Table 2 of Hojjati & Armanfard (TKDE 2024): MNIST, CIFAR-10, PIMA, with baselines",
    "deep_svdd": "Deep SVDD, original vs enhanced LeNet: CIFAR-10 cat over seeds, MNIST one-class",
    "deep_svdd_enhanced_ablation": "Deep SVDD on MNIST: ablations of the enhanced LeNet (no BN shift, 5x5 kernels)",
    "deep_svdd_precision": "Deep SVDD training time under float32 and mixed_float16 (CIFAR-10 cat)",
    "reconstruction": "MNIST one-class: dense/conv autoencoder, VAE (beta grid), GANomaly",
    "vae_validation": "The MNIST VAE setting, chosen on a validation split of the training data",
    "feature_memory": "PaDiM, PatchCore and EfficientAD on the magnetic tiles; greedy coreset timing",
    "wood_settings": "Settings on the synthetic wood set: PatchCore layers, scoring, input side, epochs",
    "backends": "The same detectors on the TensorFlow, JAX and PyTorch backends (CPU)",
    "input_checks": "What the input checks (NaN/inf per batch, dtypes, emptiness) cost per epoch",
    "backbones": "MobileNet 0.25 vs EfficientNet-Lite0/Lite2 for PaDiM and PatchCore; CIFAR-10 linear probe",
    "scale": "PatchCore and PaDiM on 1,000-10,000 streamed boards: memory, time; streaming coreset, float16, IVF-PQ",
    "real_defects": "The six flagship detectors on the magnetic tiles and the synthetic wood, settings chosen on validation",
    "teacher_probe": "What EfficientAD's teacher features hold on the magnetic tiles: nearest-neighbour probe, no student",
    "serving": "Exported artifacts (SavedModel, ONNX Runtime, LiteRT): latency, throughput, size, parity at 224 px",
}
