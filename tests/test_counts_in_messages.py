"""Messages that count things say "1 epoch", "1 image", not "1 epochs" (the counts a small run reaches)."""
from calibrators.local_temperature import LocalTemperatureFit
from calibrators.selective import SelectiveScalingFit


def lts_fit(epochs_run: int, best_epoch: int, images: int) -> LocalTemperatureFit:
    return LocalTemperatureFit(module=None, nll_before=0.5, nll_after=0.4, epochs_run=epochs_run,
                               best_epoch=best_epoch, fitting_images=images, held_out_images=images,
                               temperature_range=(0.9, 1.1))


def test_local_temperature_counts_one_epoch_and_one_image():
    line = lts_fit(epochs_run=1, best_epoch=0, images=1).describe()
    assert line.startswith("the one epoch did not beat T = 1 on the 1 held-out validation image (NLL")
    assert lts_fit(epochs_run=3, best_epoch=0, images=2).describe().startswith(
        "none of the 3 epochs beat T = 1 on the 2 held-out validation images (NLL")
    line = lts_fit(epochs_run=1, best_epoch=1, images=1).describe()
    assert "fitted on 1 validation image; held-out NLL on 1 image 0.5000" in line


def test_selective_scaling_counts_one_image():
    fit = SelectiveScalingFit(module=None, nll_before=0.5, nll_after=0.5, temperature=1.0, threshold=1.0,
                              at_bound=False, flagged_fraction=0.0, mispredicted_fraction=0.0, recall=0.0,
                              precision=0.0, mispredicted_weight=1.0, epochs_run=0, best_epoch=0, fitting_images=1,
                              held_out_indices=(0,))
    line = fit.describe()
    assert line.startswith("no pixel of the 1 fitting validation image is mispredicted") and "on 1 image)" in line
