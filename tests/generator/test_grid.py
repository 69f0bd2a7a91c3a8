"""Tiling AM images into panels."""

import numpy as np
import pytest
import torch
from PIL import Image

from generator.am import grid


@pytest.mark.parametrize(
    "text, expected", [("10x10", (10, 10)), ("2X5", (2, 5)), (" 3 x 4 ", (3, 4))]
)
def test_parse_grid_reads_rows_and_columns(text, expected):
    assert grid.parse_grid(text) == expected


@pytest.mark.parametrize("text", ["10", "10x", "x10", "10*10", "0x10", "ten by ten", "-1x2"])
def test_parse_grid_rejects_malformed_text_saying_the_expected_form(text):
    with pytest.raises(ValueError, match="grid"):
        grid.parse_grid(text)


def test_tile_places_images_row_by_row_with_white_gaps():
    images = torch.zeros(6, 3, 4, 5)
    for index in range(6):
        images[index] = index / 10
    panel = np.asarray(grid.tile(images, 2, 3, gap=1))
    assert panel.shape == (2 * 4 + 1, 3 * 5 + 2, 3)
    # Image 4 is in row 1, column 1.
    assert (panel[5:9, 6:11] == round(0.4 * 255)).all()
    assert (panel[4, :] == 255).all() and (panel[:, 5] == 255).all()


def test_tile_without_gap_is_exactly_the_images_side_by_side():
    pixels = np.random.default_rng(0).integers(0, 256, size=(4, 3, 3, 3), dtype=np.uint8)
    panel = np.asarray(grid.tile(pixels, 2, 2, gap=0))
    assert np.array_equal(panel[:3, 3:], pixels[1])
    assert np.array_equal(panel[3:, :3], pixels[2])


def test_tile_refuses_a_count_that_does_not_fill_the_grid():
    with pytest.raises(ValueError, match="takes 4 images, got 3"):
        grid.tile(torch.rand(3, 3, 2, 2), 2, 2)


def test_to_uint8_clips_out_of_range_values():
    pixels = grid.to_uint8(torch.tensor([-1.0, 0.5, 2.0]).view(3, 1, 1, 1).expand(3, 3, 1, 1))
    assert pixels[:, 0, 0, 0].tolist() == [0, 128, 255]


def test_to_uint8_gives_a_tensor_and_its_array_the_same_pixels():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(4, 3, 16, 16, generator=generator) * 1.2 - 0.1
    images[0, 0, 0] = torch.arange(16) / 255 + 0.5 / 255  # on the rounding boundaries
    assert np.array_equal(grid.to_uint8(images), grid.to_uint8(images.numpy()))


def test_web_size_shrinks_the_longest_side_and_never_enlarges():
    big = grid.tile(torch.rand(100, 3, 128, 128), 10, 10)
    assert max(grid.web_size(big).size) == grid.WEB_MAX_SIDE
    small = grid.tile(torch.rand(4, 3, 8, 8), 2, 2)
    assert grid.web_size(small).size == small.size


def test_a_16_bit_grey_photo_becomes_a_tile_of_the_same_grey(tmp_path):
    """Pillow's own convert clips 16-bit values at 255: the tile would come out white."""
    Image.fromarray(np.full((30, 40), 40000, dtype=np.uint16)).save(tmp_path / "grey16.png")
    [tile] = grid.photos_square([tmp_path / "grey16.png"], 16)
    assert tile.mean() == pytest.approx(40000 / 65535 * 255, abs=1)
