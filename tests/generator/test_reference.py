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


def test_a_huge_image_is_named_with_its_size_and_what_to_do(tmp_path, monkeypatch):
    save_image(tmp_path / "huge.png", 30, 20, 10)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow refuses twice that: 200
    message = r"huge.png has 600 pixels, more than Pillow reads \(200: .*; resize it"
    with pytest.raises(ValueError, match=message):
        reference.image_load(tmp_path / "huge.png", 16)
    with pytest.raises(ValueError, match=message):
        reference.images_check([tmp_path / "huge.png"])


def test_the_headers_check_names_a_file_that_is_no_image(tmp_path):
    save_image(tmp_path / "a.png", 8, 8, 10)
    (tmp_path / "notes.jpg").write_text("a text saved as .jpg")
    reference.images_check([tmp_path / "a.png"])
    with pytest.raises(ValueError, match="notes.jpg is not readable: cannot identify"):
        reference.images_check([tmp_path / "a.png", tmp_path / "notes.jpg"])


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


def test_a_16_bit_grey_image_keeps_its_greys(tmp_path):
    """Pillow's own convert clips 16-bit values at 255: the image would come out white."""
    greys = np.full((40, 40), 20000, dtype=np.uint16)  # 0.305 of the 16-bit range
    Image.fromarray(greys).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode == "I;16"
    image = reference.image_load(tmp_path / "grey16.png", 32)
    assert image.mean().item() == pytest.approx(20000 / 65535, abs=1 / 255)


def test_a_floating_point_image_is_refused_saying_how_to_save_it(tmp_path):
    Image.fromarray(np.full((8, 8), 0.5, dtype=np.float32)).save(tmp_path / "depth.tif")
    with pytest.raises(ValueError, match=r"depth.tif .*floating-point.*save it as an 8- or 16-bit"):
        reference.image_load(tmp_path / "depth.tif", 16)


def test_dot_files_and_folders_are_not_reference_images(tmp_path):
    """macOS copies leave an AppleDouble `._name.png` (not an image) beside each image."""
    save_image(tmp_path / "a.png", 8, 8, 10)
    (tmp_path / "._a.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble, not an image")
    (tmp_path / ".thumbnails").mkdir()
    save_image(tmp_path / ".thumbnails" / "a.png", 4, 4, 10)
    assert reference.reference_files(tmp_path) == [tmp_path / "a.png"]


def test_linked_folders_are_read_and_a_link_to_a_folder_above_does_not_loop(tmp_path):
    """A reference set made of links to ImageNet's class folders is read whole."""
    imagenet, ref = tmp_path / "imagenet", tmp_path / "ref"
    for wnid in ("n01", "n02"):
        (imagenet / wnid).mkdir(parents=True)
        save_image(imagenet / wnid / f"{wnid}.png", 8, 8, 10)
    (ref / "own").mkdir(parents=True)
    (ref / "n01").symlink_to(imagenet / "n01", target_is_directory=True)
    (ref / "photo.png").symlink_to(imagenet / "n02" / "n02.png")
    (ref / "own" / "up").symlink_to(ref, target_is_directory=True)  # a loop
    (ref / "own" / "same").symlink_to(imagenet / "n01", target_is_directory=True)
    assert reference.reference_files(ref) == [ref / "n01" / "n01.png", ref / "photo.png"]


def test_a_folder_reached_only_through_a_hidden_one_is_read(tmp_path):
    (tmp_path / ".store" / "cats").mkdir(parents=True)
    save_image(tmp_path / ".store" / "cats" / "a.png", 8, 8, 10)
    (tmp_path / "cats").symlink_to(tmp_path / ".store" / "cats", target_is_directory=True)
    assert reference.reference_files(tmp_path) == [tmp_path / "cats" / "a.png"]


def test_a_folder_inside_is_read_by_its_own_path_not_by_a_link_to_it(tmp_path):
    """`a -> x` sorts first, yet x/img.png keeps its name: the set's digest stays what runs
    made before links were followed (else they could not be resumed)."""
    (tmp_path / "x").mkdir()
    save_image(tmp_path / "x" / "img.png", 8, 8, 10)
    (tmp_path / "a").symlink_to(tmp_path / "x", target_is_directory=True)
    assert reference.reference_files(tmp_path) == [tmp_path / "x" / "img.png"]
