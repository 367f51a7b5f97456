"""The corruption table, the seeded call and the mended imagecorruptions package, on small synthetic photos."""
import numpy as np
import pytest
from skimage.filters import gaussian

from data.corruptions import (CORRUPTIONS, FAMILIES, ShiftedSet, corrupt, corruption_names, gaussian_multichannel,
                              image_seed, imagecorruptions, parse_shifted, severity_levels)


@pytest.fixture(scope="module")
def photo():
    # Smooth shapes plus texture, 40 x 48: every corruption has edges and flat parts to change.
    y, x = np.mgrid[:40, :48]
    base = np.stack([x * 5, y * 6, ((x - 24) ** 2 + (y - 20) ** 2 < 100) * 200], axis=-1)
    noise = np.random.default_rng(0).integers(0, 40, (40, 48, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_every_corruption_runs_and_changes_the_photo(photo, name):
    # gaussian_blur and glass_blur fail unmended (scikit-image dropped `multichannel`), frost without
    # pkg_resources, fog under NumPy 2; glass_blur loops over pixels, so the photo stays tiny.
    out = corrupt(photo, name, 3, "photo")
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert not np.array_equal(out, photo)


def test_the_table_is_the_packages_list_with_its_families():
    package = imagecorruptions()
    assert sorted(CORRUPTIONS) == sorted(package.get_corruption_names("all"))
    for family in FAMILIES:  # the package's 15 ImageNet-C corruptions keep its families
        assert set(package.get_corruption_names(family)) == {
            c.name for c in CORRUPTIONS.values() if c.family == family and c.imagenet_c}
    assert {c.name for c in CORRUPTIONS.values() if not c.imagenet_c} == set(package.get_corruption_names("validation"))


def test_mended_gaussian_blur_is_scikit_images_gaussian_per_channel(photo):
    assert np.array_equal(gaussian_multichannel(photo / 255.0, sigma=1.5, multichannel=True),
                          gaussian(photo / 255.0, sigma=1.5, channel_axis=-1))
    sigma = 2  # the package's sigma of severity 2
    expected = np.uint8(np.clip(gaussian(photo / 255.0, sigma=sigma, channel_axis=-1), 0, 1) * 255)
    assert np.array_equal(corrupt(photo, "gaussian_blur", 2, "photo"), expected)


@pytest.mark.parametrize("severity", [1, 5])
def test_contrast_is_the_packages_own(photo, severity):
    expected = imagecorruptions().corrupt(photo, corruption_name="contrast", severity=severity)
    assert np.array_equal(corrupt(photo, "contrast", severity, "photo"), expected)


def test_noise_is_seeded_per_photo_and_leaves_the_global_generator_alone(photo):
    np.random.seed(7)
    expected_next = np.random.rand()
    np.random.seed(7)
    first = corrupt(photo, "gaussian_noise", 2, "a")
    assert np.random.rand() == expected_next
    assert np.array_equal(first, corrupt(photo, "gaussian_noise", 2, "a"))
    assert not np.array_equal(first, corrupt(photo, "gaussian_noise", 2, "b"))
    assert image_seed("a", "gaussian_noise", 2) != image_seed("a", "gaussian_noise", 3)


def test_names_families_and_all():
    assert corruption_names("") == ()
    assert corruption_names("contrast,gaussian_noise") == ("gaussian_noise", "contrast")
    assert corruption_names("noise") == ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise")
    every = corruption_names("all")
    assert len(every) == len(CORRUPTIONS) - 1 and "glass_blur" not in every  # too slow for `all`: by name only
    assert "glass_blur" not in corruption_names("blur") and "glass_blur" in corruption_names("blur,glass_blur")
    with pytest.raises(ValueError, match=r"unknown corruption fogg: use all, a family \(noise, blur, weather, "
                                         r"digital\) or some of gaussian_noise, .*saturate"):
        corruption_names("fog,fogg")


@pytest.mark.parametrize("spec", ["0", "6", "1,6", "", "one"])
def test_severities_outside_one_to_five_are_refused(spec):
    with pytest.raises(ValueError, match="integers from 1 to 5"):
        severity_levels(spec)


def test_severities_are_sorted_once_each():
    assert severity_levels("5,1,3,1") == (1, 3, 5)


def test_corrupted_set_names_read_back():
    shifted = ShiftedSet("PASCAL-S", "jpeg_compression", 4)
    assert shifted.name == "PASCAL-S@jpeg_compression-4" and parse_shifted(shifted.name) == shifted
    assert shifted.family == "digital"
    assert parse_shifted("PASCAL-S") is None and parse_shifted("a@unknown-1") is None
