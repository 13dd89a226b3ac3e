"""Choosing the torch device: `auto` takes CUDA when present, else the CPU."""

from __future__ import annotations

from dataclasses import dataclass

import torch


def resolve_device(spec: str = "auto") -> torch.device:
    """Turn a device setting (`auto`, `cpu`, `cuda`, `cuda:N`) into a torch device.

    Raises:
        ValueError: the spec is not a device name, or names CUDA where none is available.
    """
    name = spec.strip().lower() or "auto"
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"torch device {spec!r} is not a device name (auto, cpu, cuda, cuda:N)") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"torch device {spec!r} asked for, but CUDA is not available on this host")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"torch device {spec!r}: this host has {torch.cuda.device_count()} CUDA device(s)"
            )
    elif device.type != "cpu":
        raise ValueError(f"torch device {spec!r}: only cpu and cuda are supported")
    return device


@dataclass(frozen=True)
class TorchInfo:
    """What torch can use on this host."""

    requested: str
    device: str
    torch_version: str
    cuda_available: bool
    cuda_devices: tuple[str, ...]
    error: str | None = None


def describe_torch(spec: str = "auto") -> TorchInfo:
    cuda = torch.cuda.is_available()
    names = tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) if cuda else ()
    try:
        device, error = str(resolve_device(spec)), None
    except ValueError as exc:
        device, error = "", str(exc)
    return TorchInfo(
        requested=spec,
        device=device,
        torch_version=str(torch.__version__),
        cuda_available=cuda,
        cuda_devices=names,
        error=error,
    )
