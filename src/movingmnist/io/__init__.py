"""Datasets on disk: writers (zarr, hdf5, npy, classic-npy) behind one registry, the manifest, and the reader."""

from .base import ChunkSink, Writer
from .layout import ArrayLayout, Layout
from .manifest import Manifest
from .opening import detect_format
from .reader import Dataset, LazyArray, open_dataset
from .registry import WRITERS, register_writer
from .writers import get_writer, infer_format

__all__ = [
    "WRITERS",
    "ArrayLayout",
    "ChunkSink",
    "Dataset",
    "LazyArray",
    "Layout",
    "Manifest",
    "Writer",
    "detect_format",
    "get_writer",
    "infer_format",
    "open_dataset",
    "register_writer",
]
