"""The APIs of the two projects movingmnist grew from, as thin layers over presets (see docs/torch.md).

- :mod:`movingmnist.compat.torch_moving_mnist`: ``MovingMNIST`` of tcapelle/torch_moving_mnist, over the
  ``affine`` preset (needs the ``torch`` extra).
- :mod:`movingmnist.compat.segmentation`: ``generate_moving_mnist`` and the save layout of the segmentation
  notebook, over the ``segmentation`` preset (numpy only; HDF5 output needs the ``hdf5`` extra).

Import the submodule you need; this package imports nothing heavy.
"""
