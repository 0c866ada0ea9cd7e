"""Data: IDX and CIFAR-binary readers, datasets, the DataLoader and batch transforms (d2l §4.2, §14.1)."""
from .dataloader import DataLoader
from .datasets import (CIFAR10, MNIST, ArrayDataset, DatasetNotFoundError, FashionMNIST,
                       ImageDataset, search_folders)
from .idx import DataFileError, read_idx
from .segmentation import VOC_CLASSES, VOC_COLORMAP, SyntheticShapes, VOCSegmentation
from .transforms import (ColorJitter, Compose, Normalize, PCALighting, RandomCrop, RandomHorizontalFlip,
                         RandomResizedCrop, RandomTransform, Resize, ScaleJitter, Transform)

__all__ = [
    "DataLoader", "CIFAR10", "MNIST", "ArrayDataset", "DatasetNotFoundError", "FashionMNIST",
    "ImageDataset", "search_folders", "DataFileError", "read_idx", "ColorJitter", "Compose",
    "Normalize", "PCALighting", "RandomCrop", "RandomHorizontalFlip", "RandomResizedCrop", "RandomTransform",
    "Resize", "ScaleJitter", "Transform", "VOC_CLASSES", "VOC_COLORMAP", "SyntheticShapes",
    "VOCSegmentation",
]
