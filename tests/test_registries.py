import pytest
import torch

from mdlkit import MdlkitError
from mdlkit.data import check_dataset, load_dataset
from mdlkit.models import MODELS, check_model, model_spec
from mdlkit.regularizers import DRR, L1, METHODS, PMMP, RegularizerSpec


def test_one_loader_gives_images_or_flat_vectors_of_the_same_data() -> None:
    flat, images = load_dataset("digits"), load_dataset("digits", images=True)
    assert flat.input_shape == (64,) and images.input_shape == (1, 8, 8)
    assert torch.equal(images.train.x.flatten(1), flat.train.x)
    ts = load_dataset("teacher-student", n_train=30, noise=0.1, seed=2)
    assert len(ts.train) == 30 and ts.n_classes is None
    with pytest.raises(MdlkitError, match="no images"):
        load_dataset("teacher-student", images=True)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("cifar", {}, "unknown dataset 'cifar'; choose one of digits, mnist, teacher-student"),
        ("digits", {"n_train": 0}, "n_train must be >= 1"),
        ("teacher-student", {"noise": -1.0}, "noise must be >= 0"),
    ],
)
def test_dataset_options_are_checked(name: str, options: dict, message: str) -> None:
    with pytest.raises(MdlkitError, match=message):
        check_dataset(name, **options)


def test_model_names_and_fit_to_the_data() -> None:
    with pytest.raises(MdlkitError, match="unknown model 'resnet'; choose one of mlp"):
        check_model("resnet")
    with pytest.raises(MdlkitError, match="lenet5-caffe needs 28×28 images"):
        check_model("lenet5-caffe", image_shape=(1, 8, 8))
    with pytest.raises(MdlkitError, match="small-cnn is an image model; teacher-student needs"):
        check_model("small-cnn", image_shape=None, data="teacher-student")
    with pytest.raises(MdlkitError, match="hidden layer sizes must be >= 1"):
        check_model("mlp", hidden=(0,))
    for name in MODELS:
        shape = (1, 28, 28) if name in ("lenet5-caffe", "small-cnn") else (784,)
        if name == "student":
            shape = (2,)
        spec = model_spec(name, input_shape=shape, n_outputs=10 if name != "student" else 1)
        out = spec.build()(torch.zeros(3, *shape))
        assert out.shape[0] == 3  # every model builds and runs on data of its shape


def test_methods_build_their_regularizers_and_check_their_options() -> None:
    built = {m: RegularizerSpec(m, alpha=1e-3).build() for m in METHODS}
    assert built["none"] is None
    assert isinstance(built["drr"], DRR) and isinstance(built["l1"], L1)
    assert isinstance(built["pmmp"], PMMP)
    for spec, message in [
        (RegularizerSpec("magic"), "unknown method 'magic'; choose one of none, drr"),
        (RegularizerSpec("drr", alpha=-1.0), r"alpha must be >= 0, got -1.0"),
        (RegularizerSpec("drr", beta=0.0), "DRR needs beta > 0"),
        (RegularizerSpec("pmmp", gamma_init=2.0), "gamma init must lie in"),
    ]:
        with pytest.raises(MdlkitError, match=message):
            spec.validate()
