import pytest
import torch

from fitting.device import describe_torch, resolve_device


def test_auto_picks_cuda_only_when_available() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("").type == expected


def test_cpu_is_always_available() -> None:
    assert resolve_device("CPU") == torch.device("cpu")


@pytest.mark.parametrize("spec", ["tpu", "gpu0", "mps"])
def test_unknown_device_is_refused_with_its_name(spec: str) -> None:
    with pytest.raises(ValueError, match=spec):
        resolve_device(spec)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a host without CUDA")
def test_cuda_without_cuda_says_so() -> None:
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda:0")
    info = describe_torch("cuda")
    assert info.device == ""
    assert info.error is not None
    assert "CUDA is not available" in info.error


def test_describe_reports_version_and_device() -> None:
    info = describe_torch("cpu")
    assert info.device == "cpu"
    assert info.torch_version == torch.__version__
    assert info.error is None
