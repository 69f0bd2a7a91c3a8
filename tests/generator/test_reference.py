"""Natural reference images and the per-unit maxima of the quality report."""

import numpy as np
import pytest
import torch
from PIL import Image

from generator.am import reference
from generator.am.config import AMConfig
from generator.am.networks import layer_vector


def save_image(path, width, height, value):
    Image.fromarray(np.full((height, width, 3), value, dtype=np.uint8)).save(path)


def test_image_load_scales_the_shorter_side_and_crops_the_centre(tmp_path):
    pixels = np.zeros((40, 80, 3), dtype=np.uint8)
    pixels[:, 30:50] = 255  # a white band in the middle of a wide image
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    image = reference.image_load(tmp_path / "wide.png", 20)
    assert image.shape == (3, 20, 20)
    assert image[:, :, 10].min() > 0.9 and image[:, :, 0].max() < 0.1


def test_reference_files_are_found_below_the_folder_and_bad_folders_refused(tmp_path):
    (tmp_path / "a").mkdir()
    save_image(tmp_path / "a" / "one.JPG", 8, 8, 10)
    (tmp_path / "notes.txt").write_text("not an image")
    assert reference.reference_files(tmp_path) == [tmp_path / "a" / "one.JPG"]
    with pytest.raises(ValueError, match="does not exist"):
        reference.reference_files(tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        reference.reference_files(tmp_path / "empty")


def test_an_unreadable_reference_image_is_named(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png is not readable"):
        reference.image_load(tmp_path / "broken.png", 16)


def test_reference_maxima_are_each_units_highest_value_over_the_folder(tmp_path, demo_pair):
    target, _ = demo_pair
    for index, value in enumerate((0, 90, 200)):
        save_image(tmp_path / f"{index}.png", 40, 32, value)
    config = AMConfig(network="alexnet", layer="fc6")  # not the demo: no built-in reference
    maxima = reference.reference_maxima(target, config, reference=tmp_path)
    images = torch.stack([reference.image_load(p, 32) for p in sorted(tmp_path.iterdir())])
    with torch.no_grad():
        fc6 = target.activations(target.preprocess(images), ["fc6"])["fc6"]
    assert torch.allclose(maxima, layer_vector(fc6).amax(dim=0), atol=1e-5)
    assert reference.reference_maxima(target, config, reference=None) is None
