"""A user's own network class, defined in a file outside the package, through fit → weight file
→ decode; and a weight file naming a factory refused unless the caller allows it."""

import json
import sys
from pathlib import Path

import pytest
import torch

from mdlkit import MdlkitError
from mdlkit.coding import decode_model, encode_model, read_model
from mdlkit.coding.architecture import FACTORY_KIND, MODEL_KINDS
from mdlkit.coding.weights import decode_spec
from mdlkit.models import ModelSpec
from mdlkit.models.factory import (
    allowed_factories,
    factory_reference,
    factory_spec,
    import_factory,
    parse_model_args,
)
from mdlkit.recipes.fit import FitConfig, run_fit


def test_a_user_cnn_goes_through_fit_the_weight_file_and_back(
    user_cnn: type[torch.nn.Module], tmp_path: Path
) -> None:
    args = {"channels": 2, "n_classes": 10}
    config = FitConfig(
        model="usernets_fx:UserCNN", model_args=json.dumps(args), images=True, n_train=150,
        method="none", prune_mode="relative", epochs=30, finetune_epochs=4, grid_epochs=0,
        warmup_epochs=0, window=4, batch_size=0, lr=0.03,
    )  # fmt: skip
    result = run_fit(config)
    assert result.spec == ModelSpec("usernets_fx:UserCNN", args)
    assert result.nonzero > 0  # not the all-pruned model, whose outputs are trivially equal
    path = result.two_part.encoded_model.write(tmp_path / "user.mdlw")

    decoded = read_model(path, factories=[user_cnn])
    assert type(decoded) is user_cnn
    x = result.two_part.decoded_model  # decoded inside the fit, from the same bytes
    with torch.no_grad():
        decoded.eval()
        x.eval()
        test_x = torch.as_tensor(load_test_images())
        assert torch.equal(decoded(test_x), x(test_x))
    # The architecture is the kind (1 byte), the reference (a length byte + the text), the
    # number of arguments, then each name (length + text) and value (tag 3 + a one-byte varint).
    reference = "usernets_fx:UserCNN"
    expected = 1 + (1 + len(reference)) + 1 + sum(1 + len(name) + 2 for name in args)
    assert result.two_part.length.parts["architecture"] == 8 * expected

    with pytest.raises(MdlkitError, match="names the model factory usernets_fx:UserCNN, which"):
        read_model(path)


def load_test_images() -> torch.Tensor:
    from mdlkit.data import load_digits

    return load_digits(seed=0, flatten=False, n_train=150).test.x


def test_decoding_imports_nothing_and_needs_the_very_factory_allowed() -> None:
    def net(width: int, scale: float = 1.0) -> torch.nn.Module:
        return torch.nn.Linear(3, width)

    reference = "never_imported_fx.nets:make_net"
    spec = factory_spec(net, {"width": 2, "scale": 0.1}, name=reference)
    model = spec.build()
    data = encode_model(model, spec, 0.01).data
    for factories in (None, {}, {"never_imported_fx.nets:other": net}):
        with pytest.raises(MdlkitError, match=f"names the model factory {reference}") as error:
            decode_model(data, factories)
        assert "\n" not in str(error.value)
    assert "never_imported_fx" not in sys.modules
    decoded = decode_model(data, {reference: net})
    assert [p.shape for p in decoded.parameters()] == [(2, 3), (2,)]
    # A float argument that float32 does not hold travels as 8 bytes, unrounded.
    assert decode_spec(data, {reference: net}) == ModelSpec(reference, {"scale": 0.1, "width": 2})


def test_a_damaged_factory_file_is_caught() -> None:
    def net(width: int) -> torch.nn.Module:
        return torch.nn.Linear(3, width)

    spec = factory_spec(net, {"width": 2}, name="pkg_fx:net")
    data = bytearray(encode_model(spec.build(), spec, 0.01).data)
    allow = {"pkg_fx:net": net, "pkg_fy:net": net}
    at = data.index(b"pkg_fx") + 5
    data[at] = ord("y")  # pkg_fx → pkg_fy: another allowed factory, but the CRC32 covers it
    with pytest.raises(MdlkitError, match="failed its checksum"):
        decode_model(bytes(data), allow)
    data[at] = ord("-")  # no reference at all
    with pytest.raises(MdlkitError, match="names a factory by no reference module:name"):
        decode_model(bytes(data), allow)


def test_references_and_arguments_are_checked() -> None:
    assert factory_reference(factory_spec) == "mdlkit.models.factory:factory_spec"
    with pytest.raises(MdlkitError, match="has no reference module:name"):
        factory_reference(lambda: torch.nn.Linear(1, 1))
    with pytest.raises(MdlkitError, match="cannot import no_such_module_fx"):
        import_factory("no_such_module_fx:net")
    with pytest.raises(MdlkitError, match="torch has no no_such_net"):
        import_factory("torch:no_such_net")
    with pytest.raises(MdlkitError, match="is not callable"):
        allowed_factories({"a:b": 3})  # type: ignore[dict-item]
    with pytest.raises(MdlkitError, match="must be a JSON object"):
        parse_model_args("[1, 2]")
    with pytest.raises(MdlkitError, match="is not given"):
        ModelSpec("pkg:net").build()
    spec = factory_spec(torch.nn.Linear, {"in_features": 2, "out_features": 1, "bias": {}})
    with pytest.raises(MdlkitError, match="no weight file can describe"):
        encode_model(torch.nn.Linear(2, 1), spec, 0.1)


def test_the_command_line_names_a_factory(refused) -> None:  # type: ignore[no-untyped-def]
    refused(["fit", "--model", "no_such_module_fx:net"], "cannot import no_such_module_fx")
    refused(["fit", "--model", "pkg:net", "--model-args", "64"], "must be a JSON object")
    refused(["fit", "--model-args", '{"width": 4}'], "are for a --model factory")


def test_every_damaged_byte_of_a_factory_architecture_is_caught_or_harmless() -> None:
    def net(width: int, label: str = "x") -> torch.nn.Module:
        return torch.nn.Linear(2, width)

    assert MODEL_KINDS[9] == FACTORY_KIND == "factory"  # append-only: index 9 forever
    reference = "pkg_fx:net"
    spec = factory_spec(net, {"width": 3, "label": "tanh"}, name=reference)
    model = spec.build()
    encoded = encode_model(model, spec, 0.05)
    original = decode_model(encoded.data, {reference: net})
    architecture_bytes = int(encoded.length.parts["architecture"]) // 8
    allow = {reference: net, "pkg_fy:net": net}
    for at in range(5, 5 + architecture_bytes):
        for value in (0, 1, 0x7F, 0x80, 0xFF, encoded.data[at] ^ 1):
            damaged = bytearray(encoded.data)
            damaged[at] = value
            if bytes(damaged) == encoded.data:
                continue
            try:
                decoded = decode_model(bytes(damaged), allow)
            except MdlkitError as error:
                assert "\n" not in str(error)
                continue
            assert all(  # decodes only into the very same weights
                torch.equal(a, b)
                for a, b in zip(decoded.parameters(), original.parameters(), strict=True)
            )
