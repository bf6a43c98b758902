"""Write a dataset to object storage and read it back (offline: fsspec's in-memory store stands in for a bucket).

For S3, install the extra and point the URL at your bucket; credentials and the endpoint come from the usual
places (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, ~/.aws) or from ``storage_options``:

    pip install "movingmnist[s3]"
    movingmnist generate --preset srivastava --source glyphs --num 10000 --out s3://my-bucket/train.zarr
    movingmnist verify s3://my-bucket/train.zarr

    ds = mm.open("s3://my-bucket/train.zarr", storage_options={"endpoint_url": "http://127.0.0.1:9000"})

Run: python examples/object_storage.py
"""

from __future__ import annotations

import numpy as np

import movingmnist as mm


def main() -> None:
    url = "memory://examples/train.zarr"  # any fsspec URL: s3://, gs://, az://, memory://
    summary = mm.write_dataset("srivastava", seed=0, num=200, path=url, source="glyphs", overwrite=True, progress=False)
    print(summary.line())
    ds = mm.open(url)
    local = mm.generate("srivastava", num=4, seed=0, source="glyphs")
    assert np.array_equal(ds[0:4].frames, local.frames)  # the same bytes as generating in memory
    report = mm.verify_dataset(url, sample=20)
    print("\n".join(report.lines()))
    print(f"{url}: {len(ds)} sequences, arrays {list(ds.arrays)}")


if __name__ == "__main__":
    main()
