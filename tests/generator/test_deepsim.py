"""The DeePSiM fc6 generator: architecture, colour convention, loading converted weights."""

import pytest
import torch

from generator.am.deepsim import (
    CAFFE_MEAN_BGR,
    DeePSiMFc6,
    available_generators,
    get_generator,
    load_generator,
)

PORT_KEYS = [
    f"{name}.{kind}"
    for name in (
        "defc7", "defc6", "defc5", "deconv5", "conv5_1", "deconv4", "conv4_1",
        "deconv3", "conv3_1", "deconv2", "deconv1", "deconv0",
    )
    for kind in ("weight", "bias")
]  # fmt: skip


@pytest.fixture(scope="module")
def deepsim():
    torch.manual_seed(0)
    return DeePSiMFc6().eval().requires_grad_(False)


def test_parameter_count_is_that_of_the_caffe_generator(deepsim):
    # 3 x (4096*4096 + 4096) fully connected + the nine (de)convolutions of ppgn's prototxt.
    assert sum(p.numel() for p in deepsim.parameters()) == 56_097_891


def test_a_4096_code_becomes_a_256x256_three_channel_image(deepsim):
    assert deepsim(torch.rand(2, 4096)).shape == (2, 3, 256, 256)
    assert deepsim.images(torch.rand(1, 4096)).shape == (1, 3, 256, 256)


def test_state_dict_uses_the_port_layout(deepsim):
    assert list(deepsim.state_dict()) == PORT_KEYS
    assert deepsim.state_dict()["conv5_1.weight"].shape == (256, 512, 3, 3)  # (in, out, k, k)


def test_raw_output_is_caffe_bgr_mean_subtracted_0_255():
    raw = torch.zeros(1, 3, 2, 2)
    raw[:, 0] = 255 - CAFFE_MEAN_BGR[0]  # full blue in Caffe's BGR, mean subtracted
    rgb = DeePSiMFc6().to_rgb(raw)
    assert torch.allclose(rgb[0, :, 0, 0], torch.tensor([123.0 / 255, 117.0 / 255, 1.0]))


def test_converted_weights_load_and_reproduce_the_outputs(deepsim, tmp_path):
    torch.save(deepsim.state_dict(), tmp_path / "deepsim_fc6.pt")
    loaded = load_generator("deepsim-fc6", weights=tmp_path / "deepsim_fc6.pt")
    code = torch.rand(1, 4096)
    torch.testing.assert_close(loaded(code), deepsim(code))
    assert not any(p.requires_grad for p in loaded.parameters())


def test_missing_generator_weights_say_how_to_obtain_them(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"deepsim_fc6.pt.*defc7.weight \.\.\. deconv0"):
        load_generator("deepsim-fc6")


def test_mismatched_generator_weights_are_a_clear_error(deepsim, tmp_path):
    state = dict(deepsim.state_dict())
    state.pop("deconv0.bias")
    state["deconv0.weight"] = torch.zeros(32, 4, 4, 4)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"1 missing keys \(deconv0.bias\).*deconv0.weight is"):
        load_generator("deepsim-fc6", weights=tmp_path / "bad.pt")


def test_generator_weights_stored_as_integers_are_refused(deepsim, tmp_path):
    state = dict(deepsim.state_dict())
    state["defc7.bias"] = state["defc7.bias"].to(torch.int32)
    torch.save(state, tmp_path / "ints.pt")
    with pytest.raises(ValueError, match="defc7.bias is int32 in the file but float32 in the"):
        load_generator("deepsim-fc6", weights=tmp_path / "ints.pt")


def test_generator_registry_names_its_encoder():
    assert {"deepsim-fc6", "demo"} <= set(available_generators())
    spec = get_generator("deepsim-fc6")
    assert (spec.encoder_networks[0], spec.encoder_layer) == ("alexnet", "fc6")
    assert "caffenet" in spec.encoder_networks
    with pytest.raises(ValueError, match="Unknown generator 'biggan'.*deepsim-fc6, demo"):
        get_generator("biggan")


def test_pictures_are_saved_in_ppgns_colours():
    """ppgn's save_image clips raw values (mean not added back) to -120..120; scipy's imsave
    then stretches each picture's own range over black..white."""
    generator = DeePSiMFc6()
    raw = torch.zeros(3, 3, 1, 3)
    raw[0, ..., 1], raw[0, ..., 2] = 120.0, -200.0  # grey, white, clipped black
    raw[1, ..., 0], raw[1, ..., 1], raw[1, ..., 2] = -10.0, 0.0, 30.0  # a faint picture
    raw[1, 2, :, 2] = 10.0  # raw red (BGR): its brightest value is in two channels only
    raw[2] = 50.0  # flat: black, as scipy's bytescale makes it
    pictures = generator.pictures(generator.to_rgb(raw))
    torch.testing.assert_close(pictures[0, :, 0], torch.tensor([[0.5, 1.0, 0.0]] * 3))
    faint = torch.tensor([[0.0, 0.25, 0.5], [0.0, 0.25, 1.0], [0.0, 0.25, 1.0]])  # RGB
    torch.testing.assert_close(pictures[1, :, 0], faint)
    assert pictures[2].eq(0).all()
