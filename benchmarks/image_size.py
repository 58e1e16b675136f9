"""What the Docker image weighs: each layer, and each installed distribution.

Run:  python -m benchmarks.image_size layers OCI_DIR [OCI_DIR...]
          each layer of an image in OCI layout (`buildah push --disable-compression IMAGE oci:DIR`, or
          `docker save` from Docker 25 on, unpacked): its instruction, its size as a tar (what it adds to
          the unpacked image) and gzipped (what a pull downloads, where the blob is compressed)
      python -m benchmarks.image_size packages SITE_PACKAGES
          each distribution's installed files, from its RECORD (.pyc files included), largest first

Where Docker runs, `docker image ls maisky` and `docker history maisky` print the first figures too.
Sizes are in MB (10^6 bytes), as Docker prints them. Not part of the test suite.
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from pathlib import Path

MB = 1e6


def _blob(oci: Path, digest: str) -> Path:
    algorithm, value = digest.split(":", 1)
    return oci / "blobs" / algorithm / value


def _sizes(path: Path) -> tuple[int, int]:
    """A layer blob's size as a tar and gzipped (level 6, as `docker push` compresses), whichever it is stored as."""
    total = 0

    class Count:
        def write(self, data: bytes) -> int:
            nonlocal total
            total += len(data)
            return len(data)

    with path.open("rb") as fh:
        if fh.read(2) == b"\x1f\x8b":
            fh.seek(0)
            with gzip.GzipFile(fileobj=fh) as tar:
                while chunk := tar.read(1 << 20):
                    total += len(chunk)
            return total, path.stat().st_size
        fh.seek(0)
        with gzip.GzipFile(fileobj=Count(), mode="wb", compresslevel=6, mtime=0) as out:  # type: ignore[arg-type]
            while chunk := fh.read(1 << 20):
                out.write(chunk)
    return path.stat().st_size, total


def layers(oci: Path) -> None:
    index = json.loads((oci / "index.json").read_text())
    manifest = json.loads(_blob(oci, index["manifests"][0]["digest"]).read_text())
    config = json.loads(_blob(oci, manifest["config"]["digest"]).read_text())
    made = [h for h in config.get("history", []) if not h.get("empty_layer")]
    blobs = manifest["layers"]
    if len(made) != len(blobs):  # no usable history: name the layers by number
        made = [{"created_by": f"layer {i}"} for i in range(len(blobs))]
    print(f"{oci}:")
    print(f"{'tar MB':>8} {'gzip MB':>8}  instruction")
    tar_total = gz_total = 0
    for entry, blob in zip(made, blobs, strict=True):
        tar, gz = _sizes(_blob(oci, blob["digest"]))
        tar_total, gz_total = tar_total + tar, gz_total + gz
        what = " ".join(entry.get("created_by", "").replace("/bin/sh -c #(nop) ", "").split())
        print(f"{tar / MB:8.1f} {gz / MB:8.1f}  {what[:110]}")
    print(f"{tar_total / MB:8.1f} {gz_total / MB:8.1f}  total ({len(blobs)} layers)")


def packages(site: Path) -> None:
    rows = []
    for record in site.glob("*.dist-info/RECORD"):
        size = 0
        for row in csv.reader(record.read_text(encoding="utf-8").splitlines()):
            path = site / row[0]
            if row and path.is_file():
                size += path.stat().st_size
        rows.append((size, record.parent.name.removesuffix(".dist-info")))
    for size, name in sorted(rows, reverse=True):
        print(f"{size / MB:8.1f}  {name}")
    print(f"{sum(s for s, _ in rows) / MB:8.1f}  total ({len(rows)} distributions)")


if __name__ == "__main__":
    match sys.argv[1:]:
        case ["layers", *dirs] if dirs:
            for d in dirs:
                layers(Path(d))
        case ["packages", site]:
            packages(Path(site))
        case _:
            sys.exit(__doc__)
