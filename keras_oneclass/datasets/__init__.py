"""Dataset loaders (local data first, then download) and preprocessing for one-class detection."""

from keras_oneclass.datasets.augmentation import augment, augmentation_layers
from keras_oneclass.datasets.folder import FolderData, LabelledImages, load_folder, read_folder
from keras_oneclass.datasets.image_folder import load_image_folder
from keras_oneclass.datasets.oneclass import CIFAR10_CLASSES, load_oneclass
from keras_oneclass.datasets.preprocessing import (
    fit_min_max,
    fit_standardize,
    global_contrast_normalization,
    min_max_scale,
    standardize,
)
from keras_oneclass.datasets.synthetic_defects import pasted_defects
from keras_oneclass.datasets.synthetic_wood import synthetic_wood, wood_boards
from keras_oneclass.datasets.tabular import load_odds, read_odds

__all__ = [
    "pasted_defects",
    "CIFAR10_CLASSES",
    "augment",
    "augmentation_layers",
    "FolderData",
    "LabelledImages",
    "fit_min_max",
    "fit_standardize",
    "global_contrast_normalization",
    "load_folder",
    "load_image_folder",
    "load_odds",
    "read_odds",
    "load_oneclass",
    "min_max_scale",
    "read_folder",
    "standardize",
    "synthetic_wood",
    "wood_boards",
]
