import numpy as np
import pytest

from cosmos_sim.envs.control_maps import blurred, canny_edges, derived_maps, parse_maps


def test_edges_of_a_square():
    img = np.zeros((32, 32, 3), np.uint8)
    img[8:24, 8:24] = 255
    e = canny_edges(img)
    assert e.dtype == np.uint8 and set(np.unique(e)) <= {0, 255}
    assert e[16, 16] == 0 and e[0, 0] == 0  # flat regions have no edges
    assert e[7:10, 16].max() == 255 and e[16, 7:10].max() == 255  # the square's border does


def test_blur_keeps_shape_and_smooths():
    img = np.zeros((16, 16, 3), np.uint8)
    img[:, 8:] = 255
    b = blurred(img)
    assert b.shape == img.shape and b.dtype == np.uint8
    assert 0 < b[8, 8, 0] < 255 and b[8, 0, 0] == 0


def test_parse_maps():
    assert parse_maps("depth, seg,depth") == ("depth", "seg")
    assert parse_maps(None) == () and parse_maps(("edges",)) == ("edges",)
    with pytest.raises(ValueError, match="unknown control map"):
        parse_maps("depth,flow")
    assert set(derived_maps(np.zeros((8, 8, 3), np.uint8), ("depth", "edges", "blur"))) == {"edges", "blur"}
