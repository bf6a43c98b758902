"""Datasets on disk: writers (zarr, hdf5, npy, classic-npy) behind one registry, the manifest, and the reader."""

from .base import WRITERS, ArrayLayout, ChunkSink, Layout, Writer, get_writer, infer_format, register_writer
from .manifest import Manifest
from .reader import Dataset, LazyArray, detect_format, open_dataset

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
