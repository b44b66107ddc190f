"""A two-part archive's transformer read back for export: any truncation or flipped bit up to
and inside its model record is refused in one line, never read as another model (damage
after it is the decompressor's to refuse, before export reads the original)."""

import io
import random
from pathlib import Path

import pytest

from mdlkit.compression import compress, two_part
from mdlkit.compression.archive import MODEL, read_header, read_records
from mdlkit.compression.archive_model import two_part_model
from mdlkit.errors import MdlkitError

TEXT = (Path(__file__).parents[2] / "docs" / "architecture.md").read_bytes()[:3000]


def test_damage_to_a_two_part_archives_model_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny = two_part.TwoPartPlan(d_model=8, n_layers=1, n_heads=2, context=16, epochs=1,
                                finetune_epochs=1, stride=8, chunk=1024, batch_size=16,
                                lr=1e-2)  # fmt: skip
    monkeypatch.setattr(two_part, "plan_two_part", lambda length, level=2: tiny)
    archive = compress(TEXT, mode="two-part", verify=False)
    path = tmp_path / "a.mdlz"
    path.write_bytes(archive)
    two_part_model(path)
    end = _model_record_end(archive)
    rng = random.Random(0)
    damaged = [archive[:n] for n in range(0, end, max(1, end // 30))]
    for i in (rng.randrange(end) for _ in range(40)):
        damaged.append(
            archive[:i] + bytes([archive[i] ^ (1 << rng.randrange(8))]) + archive[i + 1 :]
        )
    for data in damaged:
        path.write_bytes(data)
        with pytest.raises(MdlkitError) as info:
            two_part_model(path)
        assert "\n" not in str(info.value)


def _model_record_end(archive: bytes) -> int:
    """The offset just past the archive's model record."""
    src = io.BytesIO(archive)
    version = read_header(src).version
    for record in read_records(src, version):
        if record.tag == MODEL:
            return src.tell()
    raise AssertionError("no model record")
