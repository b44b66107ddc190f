"""The byte transformer a two-part archive stores, decoded (``mdlkit export ARCHIVE.mdlz``).

A two-part archive's model record is a weight file (``.mdlw``) of a ``byte_transformer``: it
is decoded as the decompressor decodes it, with every record up to it checked against its CRC.
An online archive stores no model, and neither does a two-part archive whose model did not pay
for itself (the bytes are stored as they are): both are refused in one line.
"""

from __future__ import annotations

import io
from pathlib import Path

from mdlkit.coding.weights import decode_model
from mdlkit.compression.archive import MODEL, STORED, damaged, read_header, read_records
from mdlkit.errors import MdlkitError
from mdlkit.models.sequence import ByteTransformer

__all__ = ["two_part_model"]


def two_part_model(path: str | Path) -> ByteTransformer:
    """The transformer stored in the two-part archive ``path``, decoded, in eval mode."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MdlkitError(f"cannot read {path} ({error.strerror})") from None
    src = io.BytesIO(data)
    header = read_header(src)
    if header.mode != "two-part":
        raise MdlkitError(
            f"{path} is an archive of the {header.mode} mode, which stores no model; export "
            "takes a fit run folder or a two-part archive (mdlkit compress --mode two-part)"
        )
    for record in read_records(src, header.version):
        if record.tag == STORED:
            raise MdlkitError(
                f"{path} stores its bytes as they are (its model did not pay for itself): it "
                "holds no model to export"
            )
        if record.tag == MODEL:
            model = decode_model(record.body)
            if not isinstance(model, ByteTransformer):
                raise damaged("its model record holds no byte transformer")
            return model.eval()
    raise damaged("it has no model record")
