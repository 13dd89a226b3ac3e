"""What a regressor checkpoint is, read off the file after a strict load: the facts a registry
keeps, and the check that it was trained for the body model it would be used with."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: A checkpoint without our metadata is SPIN's or EFT's own: trained for the licensed SMPL.
UNKNOWN_BODY_KIND = "smpl"


@dataclass(frozen=True)
class CheckpointFacts:
    sha256: str
    size: int
    backbone: str
    input_size: int
    in_channels: int
    body_kind: str  # "open" or "smpl"
    body_sha256: str  # "" where the checkpoint does not record it
    body_description: str
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)


def checkpoint_facts(path: Path) -> CheckpointFacts:
    """Load ``path`` as the fitting code will (strict: every weight of HMR, nothing else; its
    input channels agreeing with its metadata) and describe it. Raises ``FileNotFoundError`` or
    ``ValueError`` naming the file and what is wrong."""
    from fitting.fit import Regressor

    regressor = Regressor.load(Path(path))
    loaded = regressor.checkpoint
    meta: dict[str, Any] = dict(loaded.meta.get("eft_meta", {}) or {})
    description = str(meta.get("body_model", ""))
    kind = description.split(" ", 1)[0] if description else UNKNOWN_BODY_KIND
    if kind not in ("open", "smpl"):
        raise ValueError(f"regressor checkpoint {path}: unknown body model in its metadata ({description!r})")
    metrics = dict(meta.get("metrics", {}) or {})
    boot = meta.get("bootstrap") or {}
    if isinstance(boot, dict) and boot.get("evaluation"):
        metrics["bootstrap_evaluation"] = boot["evaluation"]
    training = {key: meta[key] for key in ("train_config", "training_data", "best_pa_mpjpe") if key in meta}
    if isinstance(boot, dict) and boot.get("train"):
        training["bootstrap"] = {k: v for k, v in boot.items() if k != "evaluation"}
    training["total_step_count"] = int(loaded.meta.get("total_step_count", 0) or 0)
    return CheckpointFacts(
        sha256=loaded.sha256,
        size=Path(path).stat().st_size,
        backbone=str(meta.get("backbone") or _backbone_of(loaded.model)),
        input_size=regressor.input_size,
        in_channels=int(loaded.model.in_channels),
        body_kind=kind,
        body_sha256=str(meta.get("body_sha256", "")),
        body_description=description or "licensed SMPL (SPIN / EFT checkpoint: no body recorded)",
        metrics=_plain(metrics),
        training=_plain(training),
    )


def write_facts(facts: CheckpointFacts, path: Path) -> None:
    """The facts as JSON beside a checkpoint (the shipped one's are read by the web process,
    which does not import torch)."""
    import json

    Path(path).write_text(json.dumps(asdict(facts), indent=1, sort_keys=True) + "\n")


def read_facts(path: Path, checkpoint: Path) -> CheckpointFacts:
    """The facts written by ``write_facts`` for ``checkpoint``; refused unless they name its sha256
    (a checkpoint replaced without its facts)."""
    import json

    from fitting.assets import file_sha256

    facts = CheckpointFacts(**json.loads(Path(path).read_text()))
    actual = file_sha256(checkpoint)
    if facts.sha256 != actual:
        raise ValueError(
            f"{path} describes a checkpoint with sha256 {facts.sha256[:12]}, but {checkpoint} has "
            f"{actual[:12]}: write them again (python -m fitting regressor-facts {checkpoint})"
        )
    return facts


def _backbone_of(model: Any) -> str:
    return str(getattr(model, "backbone_name", "") or "resnet50")


def _plain(value: Any) -> Any:
    """JSON-safe copy (a checkpoint's metadata may hold tuples or numpy numbers)."""
    import json

    return json.loads(json.dumps(value, default=float))


def body_mismatch(facts_kind: str, facts_sha256: str, body_kind: str, body_sha256: str) -> str:
    """Why a checkpoint trained for one body cannot be used with another ('' when it can).
    A checkpoint that records its body's file must meet that very file; one that does not
    (SPIN / EFT's own) needs the licensed SMPL."""
    if facts_kind != body_kind:
        return (
            f"it was trained for the {_kind_words(facts_kind)}, "
            f"and fits here use the {_kind_words(body_kind)}"
        )
    if facts_sha256 and body_sha256 and facts_sha256 != body_sha256:
        return (
            f"it was trained for another {_kind_words(facts_kind)} file (sha256 {facts_sha256[:12]}, "
            f"here {body_sha256[:12]})"
        )
    return ""


def _kind_words(kind: str) -> str:
    return {"open": "open body", "smpl": "licensed SMPL body"}.get(kind, f"{kind} body")
