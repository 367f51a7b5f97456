import pytest
import torch

from model import CheckpointError, build_model, load_weights
from model.network import ResidualConvUnit, load_imagenet_backbone

@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    return build_model(feat_channel=16).eval()


def test_one_logit_per_pixel_at_input_resolution(network):
    with torch.no_grad():
        out = network(torch.randn(2, 3, 64, 96))
    assert out.shape == (2, 1, 64, 96)
    assert torch.isfinite(out).all()


def test_residual_unit_adds_the_rectified_input_like_the_authors_in_place_relu():
    torch.manual_seed(0)
    unit = ResidualConvUnit(4)
    x = torch.randn(1, 4, 8, 8)
    reference_input = x.clone()
    out = torch.relu_(reference_input)  # the authors' nn.ReLU(inplace=True) rewrites the skip tensor too
    expected = unit.conv2(torch.relu(unit.conv1(out))) + reference_input
    assert torch.allclose(unit(x), expected, atol=1e-6)
    assert not torch.allclose(unit(x), unit.conv2(torch.relu(unit.conv1(torch.relu(x)))) + x)


def test_released_checkpoint_layout_loads_and_sets_every_used_weight(tmp_path, released_layout):
    network = build_model()
    state = {k: torch.randn(shape) if shape else torch.tensor(7) for k, shape in released_layout.items()}
    path = tmp_path / "Model_30_Gen.pth"
    torch.save(state, path)
    load_weights(network, path)
    for key, value in network.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_data_parallel_prefix_is_accepted(tmp_path, network):
    path = tmp_path / "dp.pth"
    torch.save({f"module.{k}": v + 1 for k, v in network.state_dict().items() if v.is_floating_point()}
               | {f"module.{k}": v for k, v in network.state_dict().items() if not v.is_floating_point()}, path)
    other = build_model(feat_channel=16)
    load_weights(other, path)
    key = "output_conv.4.bias"
    assert torch.equal(other.state_dict()[key], network.state_dict()[key] + 1)


@pytest.mark.parametrize("mutation, reported", [
    (lambda s: s.pop("path3.resConfUnit1.conv1.weight"), "path3.resConfUnit1.conv1.weight"),
    (lambda s: s.__setitem__("resnet.layer5.0.conv1.weight", torch.zeros(1)), "resnet.layer5.0.conv1.weight"),
    (lambda s: s.__setitem__("output_conv.4.bias", torch.zeros(2)), "output_conv.4.bias"),
])
def test_misfit_checkpoints_are_rejected_naming_the_keys(tmp_path, network, mutation, reported):
    state = dict(network.state_dict())
    mutation(state)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=reported.replace(".", r"\.")):
        load_weights(build_model(feat_channel=16), path)


def test_non_checkpoint_files_are_rejected(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="notes.pth"):
        load_weights(build_model(feat_channel=16), path)
    with pytest.raises(CheckpointError, match="not found"):
        load_weights(build_model(feat_channel=16), tmp_path / "missing.pth")


def test_imagenet_weights_from_a_local_file_fill_the_renamed_stages(tmp_path):
    from torchvision.models import resnet50

    torch.manual_seed(1)
    reference = resnet50().state_dict()
    path = tmp_path / "resnet50.pth"
    torch.save(reference, path)
    network = build_model(feat_channel=16)
    load_imagenet_backbone(network, path)
    assert torch.equal(network.resnet.layer3_1[2].conv2.weight, reference["layer3.2.conv2.weight"])
    assert torch.equal(network.resnet.layer4_1[0].downsample[1].running_var, reference["layer4.0.downsample.1.running_var"])


@pytest.mark.parametrize("content", [None, b"not a checkpoint"])
def test_unloadable_imagenet_weights_stop_and_name_both_fixes(tmp_path, content):
    path = tmp_path / "resnet50.pth"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as error:
        build_model(feat_channel=16, pretrained_backbone=path)
    message = str(error.value)
    assert str(path) in message and "--pretrained_backbone=PATH" in message and '--pretrained_backbone=""' in message


def test_dilated_heads_start_from_small_gaussian_weights():
    network = build_model()
    weight = network.conv4.conv2d_list[2].weight
    assert weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert network.conv4.conv2d_list[3].dilation == (18, 18) and network.conv4.conv2d_list[3].padding == (18, 18)
