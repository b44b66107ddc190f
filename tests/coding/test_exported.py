"""The export files: safetensors + architecture.json read back to the same network, int8 weights
exact when they lie on the codec's grid, the torch.export program, damaged files refused."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from mdlkit.coding.exported import (
    ARCHITECTURE,
    PROGRAM,
    WEIGHTS,
    export_program,
    int8_weights,
    read_export,
    write_export,
)
from mdlkit.errors import MdlkitError
from mdlkit.models import ByteTransformer, mlp, small_cnn
from mdlkit.models.shrink_transformer import shrink_transformer

STEP = 2.0**-5


def _on_grid(net: torch.nn.Module, limit: int) -> torch.nn.Module:
    """Weights q·STEP with |q| ≤ limit, biases anything."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("weight"):
                p.copy_(torch.randint(-limit, limit + 1, p.shape, generator=generator) * STEP)
    return net.eval()


def test_float32_export_reads_back_bit_for_bit(tmp_path: Path) -> None:
    net = small_cnn(8).eval()
    files = write_export(tmp_path, net, input_shape=(1, 8, 8), info={"run": "drr"})
    assert set(files) == {WEIGHTS, ARCHITECTURE}
    assert json.loads((tmp_path / ARCHITECTURE).read_text())["run"] == "drr"
    back = read_export(tmp_path)
    for (k, v), (k2, v2) in zip(net.state_dict().items(), back.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(v, v2)
    # float32 safetensors: 4 bytes per parameter plus a small JSON header
    n = sum(p.numel() for p in net.parameters())
    assert 4 * n < files[WEIGHTS] < 4 * n + 2000


def test_int8_stores_grid_weights_as_indices_and_gives_the_same_values(tmp_path: Path) -> None:
    net = _on_grid(mlp([30, 20, 4]), 127)
    with torch.no_grad():
        net[2].weight[0, 0] = 200 * STEP  # off int8's range: this tensor stays float32
    state, stored = int8_weights(net.state_dict(), STEP)
    assert stored == ["0.weight"] and state["0.weight"].dtype == torch.int8
    files = write_export(tmp_path, net, input_shape=(30,), int8_step=STEP)
    raw = load_file(str(tmp_path / WEIGHTS))
    assert raw["0.weight"].dtype == torch.int8 and raw["2.weight"].dtype == torch.float32
    assert torch.equal(raw["0.weight"].to(torch.float32) * STEP, net[0].weight)
    back = read_export(str(tmp_path))  # a str path works too
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), back.parameters(), strict=True))
    float_bytes = write_export(tmp_path / "f", net, input_shape=(30,))[WEIGHTS]
    # 600 weights at 1 byte instead of 4; the scale and its header entry take back a little
    assert 3 * 600 - 200 < float_bytes - files[WEIGHTS] < 3 * 600


def test_the_exported_program_takes_any_batch_size(tmp_path: Path) -> None:
    net = mlp([6, 4, 2]).eval()
    program = export_program(net, (6,))
    if program is None:
        pytest.skip("torch.export cannot export here")
    files = write_export(tmp_path, net, input_shape=(6,), program=program)
    assert files[PROGRAM] > 0
    loaded = torch.export.load(str(tmp_path / PROGRAM)).module()  # our own file: trusted
    for batch in (1, 5):
        x = torch.randn(batch, 6)
        with torch.no_grad():
            assert torch.equal(program.module()(x), net(x)) and torch.equal(loaded(x), net(x))


def test_damaged_exports_are_refused(tmp_path: Path) -> None:
    write_export(tmp_path, mlp([3, 2]).eval(), input_shape=(3,))
    (tmp_path / WEIGHTS).write_bytes(b"garbage")
    with pytest.raises(MdlkitError, match="damaged or was changed"):
        read_export(tmp_path)
    write_export(tmp_path, mlp([3, 2]).eval(), input_shape=(3,))
    architecture = json.loads((tmp_path / ARCHITECTURE).read_text())
    architecture["layers"][0]["out"] = 5
    (tmp_path / ARCHITECTURE).write_text(json.dumps(architecture))
    with pytest.raises(MdlkitError, match="do not fit its architecture"):
        read_export(tmp_path)


def test_a_shrunk_byte_transformer_reads_back_bit_for_bit(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = ByteTransformer(context=8, d_model=8, n_layers=2, n_heads=2, d_ff=6).eval()
    with torch.no_grad():
        model.blocks[0].attn.out.weight[:, :4] = 0  # head 0 of block 0 writes nothing
        model.blocks[1].mlp[2].weight[:, 1:] = 0  # block 1 keeps one feed-forward unit
    shrunk = shrink_transformer(model).model
    write_export(tmp_path, shrunk, input_shape=(8,), int8_step=STEP)
    architecture = json.loads((tmp_path / ARCHITECTURE).read_text())
    assert architecture["transformer"]["blocks"] == [[1, 4, 6], [2, 4, 1]]
    back = read_export(tmp_path)
    x = torch.randint(0, 256, (2, 8), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(back(x), shrunk(x))


def _edited(folder: Path, edit: Callable[[dict[str, Any]], object]) -> None:
    architecture = json.loads((folder / ARCHITECTURE).read_text())
    edit(architecture)
    (folder / ARCHITECTURE).write_text(json.dumps(architecture))


def _sizes(**changes: object) -> Callable[[dict[str, Any]], object]:
    return lambda a: a["transformer"].update(changes)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_sizes(d_model=10**9), "damaged"),  # meant 4 TB of memory before
        (_sizes(vocab_size=10**10), "do not fit"),
        (_sizes(blocks=[[2, 4, 10**10]]), "do not fit"),
        (_sizes(blocks=[[-2, 4, 6]]), "damaged"),  # a torch error with a traceback before
        (_sizes(d_model=8.7), "damaged"),  # read as 8 before
        (_sizes(positions="sinusoidal", context=10**9), "do not fit"),
        (lambda a: a.pop("transformer"), "describes no network"),  # a KeyError before
        (lambda a: a.update(int8=3), "int8 list"),  # a TypeError before
        (lambda a: a.update(int8=["blocks.0.attn.out.weight", "nope"]), "int8 weight nope"),
        (lambda a: a.update(int8=[]), "do not fit"),  # int8 indices loaded as weights before
    ],
)
def test_edited_architectures_are_refused_in_one_line_without_allocating(
    tmp_path: Path, edit: Callable[[dict[str, Any]], object], message: str
) -> None:
    torch.manual_seed(0)
    net = _on_grid(ByteTransformer(context=8, d_model=8, n_layers=1, n_heads=2, d_ff=6), 100)
    write_export(tmp_path, net, input_shape=(8,), int8_step=STEP)
    _edited(tmp_path, edit)
    with pytest.raises(MdlkitError, match=message) as info:
        read_export(tmp_path)
    assert "\n" not in str(info.value)


def test_a_network_that_would_compute_too_many_values_is_refused(tmp_path: Path) -> None:
    net = ByteTransformer(context=8, d_model=8, n_layers=1, n_heads=2, d_ff=6,
                          positions="sinusoidal").eval()  # fmt: skip
    write_export(tmp_path, net, input_shape=(8,))
    _edited(tmp_path, _sizes(context=10**8))  # 8·10⁸ sinusoid values, in no weight
    with pytest.raises(MdlkitError, match="asks for"):
        read_export(tmp_path)


def test_damaged_weight_files_are_refused_in_one_line(tmp_path: Path) -> None:
    """Truncations and flips anywhere in model.safetensors, its values included (safetensors has
    no checksum; architecture.json records its SHA-256), are refused in one line."""
    net = mlp([3, 4, 2]).eval()
    write_export(tmp_path, net, input_shape=(3,))
    good = (tmp_path / WEIGHTS).read_bytes()
    damaged = [good[:n] for n in range(0, len(good), 3)]
    damaged += [
        good[:i] + bytes([good[i] ^ (1 << (i % 8))]) + good[i + 1 :] for i in range(len(good))
    ]
    for weights in damaged:
        (tmp_path / WEIGHTS).write_bytes(weights)
        with pytest.raises(MdlkitError) as info:
            read_export(tmp_path)
        assert "\n" not in str(info.value)
    (tmp_path / WEIGHTS).write_bytes(good)
    assert torch.equal(read_export(tmp_path)[0].weight, net[0].weight)
    _edited(tmp_path, lambda a: a.pop("weights_sha256"))  # as exports before the checksum
    assert torch.equal(read_export(tmp_path)[0].weight, net[0].weight)
    (tmp_path / WEIGHTS).write_bytes(good[:-1])
    with pytest.raises(MdlkitError, match="cannot read the export"):
        read_export(tmp_path)
