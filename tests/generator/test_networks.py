"""The network registry: specs, weight loading, activations and unit addressing."""

from unittest.mock import patch

import numpy as np
import pytest
import torch

from generator.am import networks
from generator.am.networks import (
    LayerSpec,
    available_networks,
    check_units,
    fit_to_size,
    get_network,
    layer_vector,
    load_network,
    parse_units,
    unit_values,
)
from tests.generator.small_networks import small_spec


def _save_random_weights(name, path):
    torch.save(get_network(name).builder().state_dict(), path)
    return path


def test_registry_lists_the_required_networks():
    required = {"alexnet", "vgg16", "googlenet", "demo", "alexnet-places365", "caffenet"}
    assert required <= set(available_networks())


def test_unknown_network_error_lists_the_registered_names():
    with pytest.raises(ValueError, match="Unknown network 'resnet9'.*alexnet.*demo"):
        get_network("resnet9")


def test_unknown_layer_error_lists_the_aliases():
    with pytest.raises(ValueError, match="Unknown layer 'conv9'.*conv5, fc6, fc7, fc8"):
        get_network("alexnet").layer("conv9")


def test_imagenet_networks_carry_the_bundled_class_index():
    spec = get_network("vgg16")
    assert spec.num_classes == len(spec.class_names) == len(spec.class_ids) == 1000
    assert spec.class_ids[1] == "n01443537" and spec.class_names[2] == "great white shark"


def test_places365_networks_carry_the_releases_category_names():
    spec = get_network("alexnet-places365")
    assert spec.num_classes == len(spec.class_names) == 365
    assert (spec.class_names[0], spec.class_names[15]) == ("airfield", "arena/hockey")
    assert spec.class_ids == ("",) * 365  # no WordNet ids: --images cannot pick its images


@pytest.mark.parametrize(
    "name", ["alexnet", "vgg16", "googlenet", "alexnet-places365", "caffenet", "caffe-alexnet"]
)
def test_every_alias_names_a_module_with_that_many_units(name):
    spec = get_network(name)
    modules = dict(spec.builder().named_modules())
    for layer in spec.layers.values():
        module = modules[layer.module]
        width = getattr(module, "out_channels", getattr(module, "out_features", None))
        if width is None:  # an Inception block: the four branches are concatenated
            width = sum(branch[-1].conv.out_channels for branch in _branches(module))
        assert width == layer.units, (name, layer.alias)


def _branches(inception):
    return [[inception.branch1]] + [
        inception.branch2,
        inception.branch3,
        inception.branch4,
    ]


def test_alexnet_activations_have_the_documented_shapes(tmp_path):
    net = load_network("alexnet", weights=_save_random_weights("alexnet", tmp_path / "a.pth"))
    x = net.preprocess(torch.rand(2, 3, 256, 256))
    assert x.shape == (2, 3, 224, 224)
    acts = net.activations(x, ["conv5", "fc6", "fc8"])
    assert acts["conv5"].shape == (2, 256, 13, 13)
    assert acts["fc6"].shape == (2, 4096) and acts["fc8"].shape == (2, 1000)


@pytest.mark.parametrize("name", ["caffenet", "caffe-alexnet"])
def test_caffe_alexnets_take_227_pixel_bgr_input_and_load_caffe_layer_names(tmp_path, name):
    net = load_network(name, weights=_save_random_weights(name, tmp_path / "c.pth"))
    assert sum(p.numel() for p in net.model.parameters()) == 60_965_224  # Caffe's AlexNet
    assert "conv1.weight" in net.model.state_dict() and "fc8.bias" in net.model.state_dict()
    red = torch.zeros(1, 3, 256, 256)
    red[:, 0] = 1.0
    x = net.preprocess(red)  # centre crop, 0-255 scale minus the mean, BGR
    assert x.shape == (1, 3, 227, 227)
    assert x[0, :, 0, 0].tolist() == pytest.approx([-104.0, -117.0, 132.0], abs=1e-3)
    acts = net.activations(x, ["conv5", "fc6", "fc8"])
    assert acts["conv5"].shape == (1, 256, 13, 13)
    assert acts["fc6"].shape == (1, 4096) and acts["fc8"].shape == (1, 1000)


def test_caffenet_sees_the_deepsim_generator_output_as_ppgn_feeds_it(tmp_path):
    """G's raw output (Caffe BGR, mean subtracted) reaches CaffeNet unchanged, as in ppgn."""
    from generator.am.deepsim import DeePSiMFc6

    torch.manual_seed(0)
    generator = DeePSiMFc6().eval()
    net = load_network("caffenet", weights=_save_random_weights("caffenet", tmp_path / "c.pth"))
    with torch.no_grad():
        raw = generator(torch.rand(1, 4096) * 5)
        seen = net.preprocess(generator.to_rgb(raw))
    torch.testing.assert_close(seen, raw[..., 14:241, 14:241], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("aux_logits", [True, False], ids=["standard file", "torchvision model"])
def test_googlenet_loads_files_with_and_without_the_auxiliary_heads(tmp_path, aux_logits):
    """The standard file holds the training-only auxiliary classifiers; a state dict saved from
    torchvision's loaded model (or one trained without them) does not."""
    from torchvision.models import googlenet

    path = tmp_path / "g.pth"
    torch.save(googlenet(weights=None, aux_logits=aux_logits, init_weights=True).state_dict(), path)
    net = load_network("googlenet", weights=path)
    assert net.model.aux1 is None
    acts = net.activations(net.preprocess(torch.rand(1, 3, 224, 224)), ["inception4e", "output"])
    assert acts["inception4e"].shape == (1, 832, 14, 14) and acts["output"].shape == (1, 1000)


def test_googlenet_inception4e_is_targeted_before_its_branches_relus(tmp_path):
    """The block's output concatenates four branches that end in in-place ReLUs: taken there,
    a unit at 0 had no gradient, and its AM image never changed from the start."""
    net = load_network("googlenet", weights=_save_random_weights("googlenet", tmp_path / "g.pth"))
    x = net.preprocess(torch.rand(2, 3, 224, 224)).requires_grad_(True)
    block = {}
    hook = net.model.inception4e.register_forward_hook(
        lambda _module, _inputs, output: block.setdefault("output", output.detach().clone())
    )
    net.model(x)
    hook.remove()
    pre = net.activations(x, ["inception4e"])["inception4e"]
    assert (pre < 0).any() and (block["output"] == 0).any()
    torch.testing.assert_close(pre.relu(), block["output"])
    post = net.activations(x, ["inception4e"], pre_relu=False)["inception4e"]
    torch.testing.assert_close(post, block["output"])
    centre = pre[:, :, 7, 7]
    negative = (centre[0] < 0).nonzero()[0].item()  # a unit the ReLU would hold at 0
    centre[0, negative].backward()
    assert x.grad.abs().sum() > 0


def test_post_relu_values_rectify_hidden_layers_but_not_logits(demo_pair):
    net, _ = demo_pair
    x = net.preprocess(torch.rand(4, 3, 32, 32))
    pre = net.activations(x, ["fc6", "fc8"])
    post = net.activations(x, ["fc6", "fc8"], pre_relu=False)
    assert (pre["fc6"] < 0).any()
    assert torch.equal(post["fc6"], pre["fc6"].clamp_min(0))
    assert torch.equal(post["fc8"], pre["fc8"])


def test_activations_match_a_full_forward_pass_and_in_place_relus_do_not_leak(tmp_path):
    net = load_network("alexnet", weights=_save_random_weights("alexnet", tmp_path / "a.pth"))
    x = net.preprocess(torch.rand(1, 3, 224, 224))
    conv5 = net.activations(x, ["conv5"])["conv5"]
    assert (conv5 < 0).any(), "pre-ReLU conv5 must keep its negative values"
    logits = net.activations(x, ["fc8"])["fc8"]
    torch.testing.assert_close(logits, net.model(x))


def test_missing_weights_name_the_file_and_how_to_obtain_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="alexnet-owt-7be5be79.pth|nothing.pth"):
        load_network("alexnet", weights=tmp_path / "nothing.pth")
    with pytest.raises(FileNotFoundError, match="--weights PATH"):
        load_network("alexnet", weights=tmp_path / "nothing.pth")


def test_default_weights_are_looked_up_in_the_torch_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "checkpoints" / "vgg16-")):
        load_network("vgg16")
    (tmp_path / "checkpoints").mkdir()
    _save_random_weights("alexnet", tmp_path / "checkpoints" / "alexnet-owt-7be5be79.pth")
    assert load_network("alexnet").spec.name == "alexnet"


def test_mismatched_weights_are_a_clear_error(tmp_path):
    path = _save_random_weights("demo", tmp_path / "demo.pt")
    with pytest.raises(ValueError, match=r"demo.pt does not match network 'alexnet'.*missing keys"):
        load_network("alexnet", weights=path)
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt as PyTorch weights: it is not a PyTorch"):
        load_network("alexnet", weights=tmp_path / "junk.pt")


def test_a_file_of_another_registered_network_names_that_network(tmp_path):
    """A Places-365 AlexNet file given for alexnet: the message says which network it fits."""
    torch.save(get_network("alexnet-places365").builder().state_dict(), tmp_path / "places.pth")
    fits = r"It fits network 'alexnet-places365': give --network alexnet-places365\."
    with pytest.raises(ValueError, match=r"places.pth does not match network 'alexnet'.*" + fits):
        load_network("alexnet", weights=tmp_path / "places.pth")
    with pytest.raises(ValueError, match=r"It fits network 'demo': give --network demo\."):
        load_network("alexnet", weights=_save_random_weights("demo", tmp_path / "demo.pt"))
    caffenet = _save_random_weights("caffenet", tmp_path / "bvlc_reference_caffenet.pth")
    both = r"It fits networks 'caffenet' and 'caffe-alexnet', whose parameters have the same"
    with pytest.raises(ValueError, match=both + r" shapes: give --network caffenet or another"):
        load_network("alexnet", weights=caffenet)
    state = get_network("demo").builder().state_dict()
    del state["fc8.bias"]
    torch.save(state, tmp_path / "cut.pt")
    with pytest.raises(ValueError, match="missing keys") as refused:  # fits nothing registered
        load_network("alexnet", weights=tmp_path / "cut.pt")
    assert "It fits" not in str(refused.value)


def test_an_unreadable_weights_file_is_a_message_naming_it(tmp_path, monkeypatch):
    path = _save_random_weights("demo", tmp_path / "demo.pt")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("generator.am.networks.open", denied, raising=False)
    with pytest.raises(ValueError, match=r"Cannot read weights file .*demo.pt: Permission denied"):
        load_network("demo", weights=path)


def test_weights_stored_as_integers_are_refused_naming_the_key_and_dtypes(tmp_path):
    """load_state_dict would cast them into the float parameter and the net compute garbage."""
    state = get_network("demo").builder().state_dict()
    state["fc8.weight"] = (state["fc8.weight"] * 1000).long()
    torch.save(state, tmp_path / "ints.pt")
    with pytest.raises(ValueError, match=r"ints.pt does not match .*fc8.weight is int64 in the "
                       r"file but float32 in the network"):  # fmt: skip
        load_network("demo", weights=tmp_path / "ints.pt")
    state["fc8.weight"] = state["fc8.weight"].half()  # another float type loads, cast
    torch.save(state, tmp_path / "half.pt")
    assert load_network("demo", weights=tmp_path / "half.pt").spec.name == "demo"


def test_unreadable_weights_say_why_and_how_to_get_the_right_file(tmp_path):
    """Never torch's advice to load a file with weights_only=False (it could run code)."""
    path = _save_random_weights("alexnet", tmp_path / "alexnet.pth")
    (tmp_path / "cut.pth").write_bytes(path.read_bytes()[:1000])
    (tmp_path / "lfs.pth").write_text("version https://git-lfs.github.com/spec/v1\noid x\n")
    torch.save({"state_dict": torch.load(path), "best": np.float64(0.5)}, tmp_path / "np.pth")
    for name, reason in [
        ("cut.pth", "not a PyTorch checkpoint, or a damaged one"),
        ("lfs.pth", "is a Git LFS pointer"),
        ("np.pth", r"holds Python objects besides tensors \(numpy"),
    ]:
        with pytest.raises(ValueError, match=reason) as refused:
            load_network("alexnet", weights=tmp_path / name)
        assert "alexnet-owt-7be5be79.pth" in str(refused.value)  # how to obtain the right one
        assert "weights_only" not in str(refused.value)


def test_places365_checkpoints_in_training_layout_load(tmp_path):
    state = get_network("alexnet-places365").builder().state_dict()
    wrapped = {"epoch": 90, "state_dict": {f"module.{k}": v for k, v in state.items()}}
    torch.save(wrapped, tmp_path / "alexnet_places365.pth.tar")
    net = load_network("alexnet-places365", weights=tmp_path / "alexnet_places365.pth.tar")
    assert net.activations(net.preprocess(torch.rand(1, 3, 224, 224)), ["fc8"])["fc8"].shape == (
        1,
        365,
    )


def test_places365_alexnet_with_only_its_features_data_parallel_loads(tmp_path):
    """CSAILVision's AlexNet wrapped `features` alone: keys like features.module.0.weight."""
    state = get_network("alexnet-places365").builder().state_dict()
    wrapped = {k.replace("features.", "features.module."): v for k, v in state.items()}
    torch.save({"state_dict": wrapped}, tmp_path / "alexnet_places365.pth.tar")
    net = load_network("alexnet-places365", weights=tmp_path / "alexnet_places365.pth.tar")
    loaded = net.model.state_dict()
    assert all(torch.equal(loaded[name].cpu(), value) for name, value in state.items())


def test_a_huge_unit_range_is_refused_before_it_is_expanded():
    with pytest.raises(ValueError, match="Unit 9999999999 is out of range"):
        parse_units("0-9999999999")


def test_imagenet_weights_do_not_fit_the_places_network(tmp_path):
    path = _save_random_weights("alexnet", tmp_path / "a.pth")
    with pytest.raises(ValueError, match=r"classifier.6.weight is \(1000, 4096\) in the file"):
        load_network("alexnet-places365", weights=path)


def test_parse_units_reads_ranges_and_lists():
    assert parse_units("0-4095") == list(range(4096))
    assert parse_units("1,5,9-12") == [1, 5, 9, 10, 11, 12]
    assert parse_units(" 3 , 3, 2 ") == [3, 2]


@pytest.mark.parametrize("text", ["", "a", "1-", "-3", "5-2", "1;2", "1.5"])
def test_parse_units_rejects_malformed_lists(text):
    with pytest.raises(ValueError, match="Bad unit"):
        parse_units(text)


def test_units_out_of_range_name_the_layer_size():
    layer = get_network("alexnet").layer("fc6")
    check_units(layer, [0, 4095])
    with pytest.raises(ValueError, match="Unit 4096 is out of range for layer 'fc6'.*0-4095"):
        check_units(layer, [1, 4096])


def test_conv_units_are_read_at_the_centre_or_as_the_spatial_max():
    act = torch.zeros(2, 3, 13, 13)
    act[0, 1, 6, 6], act[0, 1, 0, 0] = 2.0, 5.0
    act[1, 2, 6, 6] = -1.0
    assert layer_vector(act).tolist() == [[0, 2, 0], [0, 0, -1]]
    assert layer_vector(act, spatial="max")[0, 1] == 5.0
    units = torch.tensor([1, 2])
    assert unit_values(act, units).tolist() == [2.0, -1.0]
    with pytest.raises(ValueError, match="spatial mode"):
        layer_vector(act, spatial="corner")


def test_fit_to_size_centre_crops_larger_and_resizes_smaller_images():
    images = torch.arange(256.0).view(1, 1, 16, 16).repeat(1, 3, 1, 1)
    cropped = fit_to_size(images, 8)
    assert torch.equal(cropped, images[..., 4:12, 4:12])
    assert fit_to_size(images, 32).shape == (1, 3, 32, 32)


def test_layer_spec_is_immutable():
    layer = LayerSpec("fc6", "fc6", "fc", 10)
    with pytest.raises(AttributeError):
        layer.units = 3


def test_a_layer_registered_with_another_width_than_its_module_is_refused(tmp_path):
    from dataclasses import replace

    spec = get_network("vgg16")
    wrong = replace(spec, layers={**spec.layers, "fc7": replace(spec.layers["fc7"], units=600)})
    path = _save_random_weights("vgg16", tmp_path / "v.pth")
    with (
        patch.dict(networks._REGISTRY, {"vgg16-wrong": lambda: wrong}),
        pytest.raises(ValueError, match="layer 'fc7' with 600 units, but its model gives 4096"),
    ):
        load_network("vgg16-wrong", weights=path)


def test_googlenet_folders_made_after_the_relus_are_told_apart():
    """Made before inception4e had parts, a folder records none: it is not resumed."""
    from generator.am.config import AMConfig
    from generator.am.provenance import SETTINGS_RULES, made_by, target_parts

    config = AMConfig(network="googlenet", layer="inception4e")
    now = made_by(config) | {"target_parts": target_parts(config)}
    assert now["target_parts"][0] == "inception4e.branch1.bn"
    assert SETTINGS_RULES.differences(made_by(config), now) == ["target_parts"]
    alexnet = AMConfig(network="alexnet", layer="fc6")
    assert (
        SETTINGS_RULES.differences(made_by(alexnet), made_by(alexnet) | {"target_parts": []}) == []
    )


class _InPlaceNet(torch.nn.Module):
    """What torchvision's newer networks do after a layer: an in-place residual addition and
    Hardswish (MobileNetV3, ResNet's `out += identity`), a functional in-place ReLU."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.block = torch.nn.Sequential(torch.nn.Conv2d(4, 4, 1), torch.nn.Hardswish(True))
        self.act = torch.nn.Hardswish(inplace=True)
        self.fc = torch.nn.Linear(4, 5)
        self.out = torch.nn.Linear(5, 3)

    def forward(self, x):
        y = self.bn(self.conv(x))
        y += 1.0
        y = self.block(self.act(y))
        return self.out(torch.relu_(self.fc(y.mean((2, 3)))))


def _in_place_spec(**layers):
    entries = {
        "bn": LayerSpec("bn", "bn", "conv", 4, rectified_after=False),
        "fc": LayerSpec("fc", "fc", "fc", 5),
        "out": LayerSpec("out", "out", "fc", 3, rectified_after=False),
    } | layers
    return small_spec("inplace", _InPlaceNet, *entries.values(), input_size=8, classes=3)


def _load_in_place(tmp_path, spec):
    torch.manual_seed(0)
    torch.save(_InPlaceNet().state_dict(), tmp_path / "inplace.pt")
    with patch.dict(networks._REGISTRY, {"inplace": lambda: spec}):
        return load_network("inplace", weights=tmp_path / "inplace.pt")


def test_what_the_network_does_in_place_after_a_layer_leaves_its_value_alone(tmp_path):
    """Taken alone, the pass stops at the layer; taken with a later one, the in-place addition,
    Hardswish and relu_ after it must not change it (they did: the recording of the selectivity
    measures always runs the whole pass)."""
    net = _load_in_place(tmp_path, _in_place_spec())
    x = torch.randn(6, 3, 8, 8)
    for layer in ("bn", "fc"):
        alone = net.activations(x, [layer])[layer]
        assert torch.equal(net.activations(x, [layer, "out"])[layer], alone)
        assert alone.min() < 0  # pre-activation values, not those of the ReLU or Hardswish
    assert torch.equal(net.activations(x, ["out"])["out"], net.model(x))


@pytest.mark.parametrize(
    "layer, message",
    [
        (LayerSpec("bn", "bn", "fc", 4), r"'bn' as fc, but its output is a 4x8x8 map .*conv"),
        (LayerSpec("fc", "fc", "conv", 5), r"'fc' as conv, but its output is a vector of 5"),
        (LayerSpec("bn", "block", "conv", 8), r"'bn' with 8 units, but its model gives 4"),
        (LayerSpec("bn", "nothing", "conv", 4), r"at module 'nothing', which its model does"),
    ],
)
def test_a_layer_registered_otherwise_than_its_output_is_refused(tmp_path, layer, message):
    """A conv output registered as fc would be flattened: "unit 100" a channel at one place.
    A container (the Sequential block) says no width of its own: its output tells."""
    with pytest.raises(ValueError, match=message):
        _load_in_place(tmp_path, _in_place_spec(**{layer.alias: layer}))


def test_unit_lists_take_ascii_digits_only():
    with pytest.raises(ValueError, match="Bad unit list"):
        parse_units("３")


class _DataDependentNet(_InPlaceNet):
    """A forward pass that reads a value, which the meta device has not."""

    def forward(self, x):
        if x.abs().sum().item() < 0:
            raise AssertionError
        return super().forward(x)


def test_a_network_the_meta_device_cannot_run_is_checked_on_its_own_model(tmp_path):
    from dataclasses import replace

    spec = replace(_in_place_spec(), builder=_DataDependentNet)
    assert not _load_in_place(tmp_path, spec).model.training
    wrong = replace(spec, layers={**spec.layers, "bn": LayerSpec("bn", "bn", "fc", 4)})
    with pytest.raises(ValueError, match="as fc, but its output is a 4x8x8 map"):
        _load_in_place(tmp_path, wrong)


class _OnePixelMapNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 8)  # an 8x8 input to a 1x1 map

    def forward(self, x):
        return self.conv(x)


def test_the_spatial_max_of_a_one_by_one_map_is_refused():
    """It is the centre: recorded as other settings, it would keep such a run from resuming."""
    from generator.am.networks import target_options_check

    conv = LayerSpec("conv", "conv", "conv", 4)
    spec = small_spec("one-pixel", _OnePixelMapNet, conv, input_size=8)
    with pytest.raises(ValueError, match="--spatial max: the map of conv is 1x1"):
        target_options_check(spec, conv, spatial="max", pre_relu=True)
    target_options_check(spec, conv, spatial="centre", pre_relu=True)
    demo = get_network("demo")
    target_options_check(demo, demo.layer("conv5"), spatial="max", pre_relu=True)
