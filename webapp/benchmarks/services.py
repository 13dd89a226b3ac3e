"""Writes of benchmarks: a benchmark, and its versions published from crowd campaigns.

Publishing freezes the fits a rule accepts among the campaigns' raw votes into one file in the
EFT JSON format, with each person's eight truncation boxes. The file is canonical JSON (sorted
keys, no spaces, no timestamps): the same votes, fits and rule give the same bytes, whose
SHA-256 names the file. A version is never changed: publishing again makes a new one. It runs
as tracked work (webapp.core.taskstate): a killed worker's version is queued again by the
sweeper, and building it again writes the same file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils.text import slugify

from webapp.benchmarks.models import Benchmark, BenchmarkVersion
from webapp.core import taskstate
from webapp.core.taskstate import TaskStatus
from webapp.crowd.models import Campaign, Item
from webapp.crowd.selectors import agreement, counted_votes, rejection_by_dataset
from webapp.datasets.models import Dataset
from webapp.fits.models import Fit, FitJob

#: Slugs that would hide pages under /api/benchmarks/.
RESERVED_SLUGS = frozenset({"schema", "docs"})


def benchmark_create(*, name: str, description: str = "", private: bool = False, slug: str = "") -> Benchmark:
    slug = slug or slugify(name)[:100]
    if not slug:
        raise ValidationError({"name": "a benchmark needs a name with letters or digits"})
    if slug in RESERVED_SLUGS:
        raise ValidationError({"name": f"{slug!r} names a page of the API: choose another name"})
    benchmark = Benchmark(name=name, slug=slug, description=description, private=private)
    benchmark.full_clean()
    benchmark.save()
    return benchmark


def _check_campaigns(campaigns: list[Campaign]) -> None:
    if not campaigns:
        raise ValidationError({"campaigns": "choose at least one campaign"})
    for campaign in campaigns:
        if campaign.kind != Campaign.Kind.VALIDATION:
            message = f"campaign {campaign.name!r} is an A/B campaign: only validation votes accept fits"
            raise ValidationError({"campaigns": message})
        if campaign.state == Campaign.State.DRAFT:
            raise ValidationError({"campaigns": f"campaign {campaign.name!r} is a draft: it has no votes"})


@transaction.atomic
def version_publish_request(
    *,
    benchmark: Benchmark,
    campaigns: list[Campaign],
    rule: str = BenchmarkVersion.Rule.UNANIMOUS,
    votes_needed: int = 3,
    note: str = "",
    enqueue: bool = True,
) -> BenchmarkVersion:
    """A new version of the benchmark (its number one higher than the last), built by a worker
    once this transaction commits."""
    _check_campaigns(campaigns)
    if rule not in BenchmarkVersion.Rule.values:
        raise ValidationError({"rule": f"unknown rule {rule!r}; choose from {BenchmarkVersion.Rule.values}"})
    if not 1 <= votes_needed <= 9:
        raise ValidationError({"votes_needed": "votes per item must be 1..9"})
    locked = Benchmark.objects.select_for_update().get(pk=benchmark.pk)
    number = (locked.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = BenchmarkVersion.objects.create(
        benchmark=locked, number=number, rule=rule, votes_needed=votes_needed, note=note,
        status=TaskStatus.QUEUED if enqueue else TaskStatus.PENDING,
    )  # fmt: skip
    version.campaigns.set(campaigns)
    if enqueue:
        versions_enqueue([version.pk])
    return version


def versions_enqueue(ids: list[int]) -> None:
    from tasks.benchmarks import publish_version_task

    def send(pk: int) -> Callable[[], object]:
        return lambda: publish_version_task.delay(pk)

    for pk in ids:
        transaction.on_commit(send(pk))


def version_retry(version: BenchmarkVersion) -> None:
    """Queue a failed version again (its number stays; nothing of it was published)."""
    if version.status != TaskStatus.FAILED:
        raise ValidationError(
            {"status": f"version {version.number} is {version.status}: only a failed one is retried"}
        )
    ids = taskstate.requeue(BenchmarkVersion.objects.filter(pk=version.pk))
    versions_enqueue(ids)


#: How the stale-work sweeper (webapp.core.taskstate) treats publishing.
VERSION_WORK = taskstate.WorkKind(
    "benchmark versions", BenchmarkVersion, versions_enqueue, resend_waiting=True
)


#: Dawid-Skene posterior of "accept" above which a card counts an item as accepted by it.
DS_THRESHOLD = 0.95


def _accepted(
    votes: list[tuple[int, int, str]], rule: str, need: int
) -> tuple[list[int], dict[str, Any], dict[int, dict[str, Any]]]:
    """The items the rule accepts, the figures of the dataset card, and per item what the
    crowd said (votes, accepts, the majority, the Dawid-Skene posterior of accept), stored beside
    each published fit so that another rule can be applied from the file (fitting.votes)."""
    import numpy as np

    from fitting import votes as aggregation

    table_of_votes = aggregation.as_table(votes)  # converted once, not by every function below
    if rule == BenchmarkVersion.Rule.UNANIMOUS:
        result = aggregation.unanimous(table_of_votes, need=need)
    elif rule == BenchmarkVersion.Rule.TWO_OF_THREE:
        result = aggregation.k_of_n(table_of_votes, k=2, n=3)
    else:
        result = aggregation.majority(table_of_votes, need=need)
    table = aggregation.rejection_table(table_of_votes, need=need)
    kappa, percent = agreement(table_of_votes)
    figures = {
        "items_judged": table.initial,
        "items_incomplete": table.incomplete,
        "accepted_unanimous": table.final,
        "rejection_rate_unanimous": table.rejection_rate if table.initial else None,
        "rejection_rate_two_of_three": table.rejection_rate_lenient if table.initial else None,
        "votes": len(table_of_votes),
        "workers": int(np.unique(table_of_votes.worker_ids).size),
        "fleiss_kappa": kappa,
        "percent_agreement": percent,
    }
    crowd: dict[int, dict[str, Any]] = {}
    if len(table_of_votes):
        majority = aggregation.majority(table_of_votes)
        posterior = aggregation.dawid_skene(table_of_votes, max_iter=200, tol=1e-7)
        accept = posterior.posterior("accept")
        for n, item in enumerate(majority.item_ids.tolist()):
            crowd[int(item)] = {
                "votes": int(majority.n_votes[n]),
                "accepts": int(majority.n_accept[n]),
                "majority_accepts": bool(majority.accepted[n]),
            }
        for n, item in enumerate(posterior.item_ids.tolist()):
            crowd[int(item)]["dawid_skene_accept"] = round(float(accept[n]), 6)
        figures["accepted_dawid_skene_095"] = int((accept >= DS_THRESHOLD).sum())
        figures["accepted_majority"] = int(majority.accepted.sum())
        # For the card's plots: accepts per item, and Dawid-Skene's posteriors in tenths.
        complete = ~majority.incomplete & (majority.n_votes >= need)
        figures["accepts_per_item"] = np.bincount(majority.n_accept[complete], minlength=need + 1).tolist()
        figures["dawid_skene_histogram"] = np.histogram(accept, bins=10, range=(0.0, 1.0))[0].tolist()
    return sorted(int(i) for i in result.accepted_ids), figures, crowd


def _per_dataset(
    campaigns: list[Campaign], votes: list[tuple[int, int, str]], need: int
) -> list[dict[str, Any]]:
    """The paper's Table 1 per source dataset, as the card stores it."""
    return [
        {"dataset": dataset, "initial": row.initial, "final": row.final,
         "rejection_rate": row.rejection_rate if row.initial else None,
         "rejection_rate_two_of_three": row.rejection_rate_lenient if row.initial else None}
        for dataset, row in rejection_by_dataset(campaigns, votes, need)
    ]  # fmt: skip


def canonical_json(payload: Any) -> bytes:
    """The one serialisation of a published file: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def version_build(
    *, version_id: int, worker: str = "", say: Callable[[str], None] | None = None
) -> BenchmarkVersion:
    """Build a queued or pending version (claimed by compare-and-set; anything else is left
    alone): count the votes, apply the rule, write the accepted fits with their truncation
    boxes as canonical EFT JSON, name it by its hash. A failure fails the version with the reason."""
    if not taskstate.claim(BenchmarkVersion, version_id, worker):
        return BenchmarkVersion.objects.get(pk=version_id)
    version = BenchmarkVersion.objects.select_related("benchmark").get(pk=version_id)
    try:
        name, digest, size, people, card, fit_ids = _build(version, say or (lambda _: None))
    except Exception as exc:
        taskstate.fail(BenchmarkVersion, version_id, f"{type(exc).__name__}: {exc}")
        raise
    version.sha256, version.people, version.card = digest, people, card
    archive = _archive(version, name)
    taskstate.finish(
        BenchmarkVersion, version_id, file=name, archive=archive, sha256=digest, size=size, people=people,
        card=card, fit_ids=fit_ids,
    )  # fmt: skip
    return BenchmarkVersion.objects.get(pk=version_id)


def card_markdown(version: BenchmarkVersion) -> str:
    """The dataset card as text (CARD.md of the version's zip): counts, rules, rates, sources and
    licences, what the fits were made with, the conventions, and the code that loads the file."""
    from fitting.benchmark import SMPLX_SNIPPET

    card = version.card

    def rate(value: Any) -> str:
        return "-" if value is None else f"{100 * float(value):.1f}%"

    def number(value: Any) -> str:
        return "-" if value is None else f"{float(value):.3f}"

    body_note = (
        "The open body's files are in `body/` of this zip."
        if card.get("open_body")
        else "Use your licensed SMPL_NEUTRAL.pkl, its J_regressor_extra.npy and smplx's default vertex ids."
    )
    lines = [
        f"# {version.benchmark.name}, version {version.number}",
        "",
        *([version.benchmark.description, ""] if version.benchmark.description else []),
        f"- File: `{version.download_name}`, SHA-256 `{version.sha256}`",
        f"- People: {version.people} fits accepted of {card.get('items_judged', 0)} judged "
        f"({card.get('items_incomplete', 0)} with too few votes left out)",
        f"- Rule: {version.get_rule_display()}; {version.votes_needed} votes per fit; gold items, blocked "
        "workers, rejected assignments and MTurk assignments MTurk has not confirmed are left out",
        f"- Rejection rate: {rate(card.get('rejection_rate_unanimous'))} under unanimity, "
        f"{rate(card.get('rejection_rate_two_of_three'))} under 2 of 3",
        f"- Other rules on the same votes: {card.get('accepted_majority', 0)} accepted by the majority, "
        f"{card.get('accepted_dawid_skene_095', 0)} with a Dawid-Skene posterior of accept of 0.95 or more",
        f"- Votes: {card.get('votes', 0)} from {card.get('workers', 0)} workers; Fleiss' kappa "
        f"{number(card.get('fleiss_kappa'))}, percent agreement {number(card.get('percent_agreement'))}",
        f"- Sources: {', '.join(card.get('datasets', []))}; licence: {'; '.join(card.get('licences', []))}",
        f"- Made with: {', '.join(card.get('methods', []))}; body model "
        f"{', '.join(card.get('body_models', []))}; regressor checkpoints (SHA-256) "
        f"{', '.join(card.get('checkpoints', [])) or '-'}",
        "",
        "![votes per item and Dawid-Skene posteriors](plots.png)",
        "",
        "| dataset | initial | final (unanimous) | rejection rate | rejection rate, 2 of 3 |",
        "|---|---|---|---|---|",
        *(
            f"| {row['dataset']} | {row['initial']} | {row['final']} | {rate(row['rejection_rate'])} "
            f"| {rate(row['rejection_rate_two_of_three'])} |"
            for row in card.get("per_dataset", [])
        ),
        "",
        "## Conventions",
        "",
        "- `parm_pose`: 24 x 3 x 3 rotation matrices (not axis-angle), [0] the global orientation: "
        "`pose2rot=False` in smplx.",
        "- `parm_shape`: 10 betas of the body model named above.",
        "- `parm_cam`: [s, tx, ty], weak perspective in the normalised 224 crop: x_n = s X + tx, "
        "y_n = s Y + ty; image pixels u = cx + 100 scale x_n, v = cy + 100 scale y_n with "
        "`bbox_center` = (cx, cy) and `bbox_scale` = crop side / 200.",
        "- `gt_keypoint_2d`: 49 x 3 in image pixels, SPIN-49 order (25 OpenPose joints, then the 24 "
        "ground-truth joints), third column 1 where labelled.",
        "- `annotId`: the source dataset's annotation id (not the image id); `imageName`: the image file.",
        "- `truncation_boxes`: 8 boxes, level 0 (face) to 7 (whole body), around the fit's projected "
        "joints; levels 1, 2 and 4 are the paper's evaluation protocol.",
        "- `fit`: how each fit was made, with its per-joint 2D error `joint_error_px_gt24`.",
        "- `crowd`: per campaign item of the fit, its votes, accepts, whether the majority accepted, and "
        "the Dawid-Skene posterior of accept (`dawid_skene_accept`): another rule can be applied from here.",
        "",
        "## Loading it with smplx",
        "",
        f"{body_note} This code reproduces every stored 2D error:",
        "",
        "```python",
        SMPLX_SNIPPET.format(json=version.download_name, body="body").rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def card_plot_png(version: BenchmarkVersion) -> bytes:
    """The card's plots: how many of each item's votes accepted (what a unanimous rule keeps,
    what a lenient one would), and Dawid-Skene's posteriors of accept."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    card = version.card
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    accepts = card.get("accepts_per_item", [])
    if accepts:
        colours = ["#b3261e"] * (len(accepts) - 1) + ["#1f7a3d"]
        axes[0].bar([str(k) for k in range(len(accepts))], accepts, color=colours)
    axes[0].set_xlabel(f"accepts of {version.votes_needed} votes")
    axes[0].set_ylabel("items")
    rate = card.get("rejection_rate_unanimous")
    axes[0].set_title(
        "votes per item" + (f": {100 * rate:.1f}% rejected by unanimity" if rate is not None else "")
    )
    histogram = card.get("dawid_skene_histogram", [])
    if histogram:
        axes[1].bar([k / 10 + 0.05 for k in range(10)], histogram, width=0.09, color="#1f77b4")
    axes[1].set_xlim(0, 1)
    axes[1].set_xlabel("Dawid-Skene posterior of accept")
    axes[1].set_ylabel("items")
    axes[1].set_title(f"{card.get('accepted_dawid_skene_095', 0)} items at 0.95 or more")
    fig.suptitle(f"{version.benchmark.name} v{version.number}: {version.people} people")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def _archive(version: BenchmarkVersion, json_name: str) -> str:
    """The version's zip: its JSON, CARD.md and (open body) the body files the card's code reads."""
    import tempfile
    import zipfile
    from pathlib import Path

    from fitting.benchmark import write_body_files

    with tempfile.TemporaryDirectory(prefix="eft-publish-") as work:
        path = Path(work) / "version.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            with (
                default_storage.open(json_name, "rb") as source,
                archive.open(version.download_name, "w") as out,
            ):
                for block in iter(lambda: source.read(1 << 20), b""):
                    out.write(block)
            archive.writestr("CARD.md", card_markdown(version))
            archive.writestr("plots.png", card_plot_png(version))
            if version.card.get("open_body"):
                for file in write_body_files(Path(work) / "body"):
                    archive.write(file, f"body/{file.name}")
        target = f"benchmarks/{version.benchmark.slug}/v{version.number}-{version.sha256[:12]}.zip"
        default_storage.delete(target)  # a rebuild replaces its own zip
        with path.open("rb") as handle:
            return default_storage.save(target, handle)


def _build(
    version: BenchmarkVersion, say: Callable[[str], None]
) -> tuple[str, str, int, int, dict[str, Any], list[int]]:
    """Write the version's file, streamed: fits are read, projected and written a chunk at a
    time into a temporary file hashed as it grows (memory does not grow with the benchmark)."""
    import tempfile

    import numpy as np
    from django.core.files import File

    from fitting.benchmark import fitted_gt24_px, truncation_boxes
    from fitting.export import EXPORT_VERSION
    from webapp.datasets.selectors import person_box
    from webapp.fits.engine import body_for
    from webapp.fits.selectors import fit_eft_entry

    campaigns = list(version.campaigns.order_by("pk"))
    votes = counted_votes(campaigns)
    accepted, figures, crowd = _accepted(votes, version.rule, version.votes_needed)
    figures["per_dataset"] = _per_dataset(campaigns, votes, version.votes_needed)
    del votes
    items_of: dict[int, list[int]] = {}
    for fit_id, item_id in (
        Item.objects.filter(campaign__in=campaigns, gold__isnull=True)
        .order_by("id")
        .values_list("fit_id", "id")
    ):
        items_of.setdefault(fit_id, []).append(item_id)
    # The accepted fits, in the file's order; chosen here rather than by an IN (...) of every
    # accepted item, which SQLite's variable limit would refuse for a large benchmark.
    accepted_set = set(accepted)
    accepted_fits = {fit for fit, items in items_of.items() if accepted_set.intersection(items)}
    ordered = (
        Fit.objects.filter(crowd_items__campaign__in=campaigns, crowd_items__gold__isnull=True)
        .order_by("person__dataset__name", "person__image__name", "person__source_annotation_id", "pk")
        .values_list("pk", flat=True)
        .distinct()
    )
    fit_ids = [pk for pk in ordered if pk in accepted_fits]
    # Jobs and datasets are the same for many fits: loaded once, not decoded again per fit.
    jobs: dict[int, FitJob] = {}
    datasets_by_pk: dict[int, Dataset] = {}
    taskstate.heartbeat(BenchmarkVersion, version.pk, people_total=len(fit_ids), people_done=0)
    say(f"{len(accepted)} items accepted ({version.rule}), {len(fit_ids)} fits to write")
    bodies: dict[str, Any] = {}
    seen: dict[str, set[str]] = {"datasets": set(), "licences": set(), "body_models": set(),
                                 "checkpoints": set(), "methods": set()}  # fmt: skip
    digest = hashlib.sha256()
    size = 0
    with tempfile.TemporaryFile() as out:

        def write(text: bytes) -> None:
            nonlocal size
            out.write(text)
            digest.update(text)
            size += len(text)

        # The canonical form of {"data": [...], "meta": ..., "ver": ...}: keys sorted, written
        # entry by entry (json.dumps of the whole document gives the same bytes).
        write(b'{"data":[')
        for start in range(0, len(fit_ids), settings.PUBLISH_CHUNK):
            wanted = fit_ids[start : start + settings.PUBLISH_CHUNK]
            loaded = Fit.objects.filter(pk__in=wanted).select_related("person", "person__image")
            by_pk = {f.pk: f for f in loaded}
            chunk = [by_pk[pk] for pk in wanted]
            for fit in chunk:
                if fit.job_id not in jobs:
                    jobs[fit.job_id] = FitJob.objects.get(pk=fit.job_id)
                if fit.person.dataset_id not in datasets_by_pk:
                    datasets_by_pk[fit.person.dataset_id] = Dataset.objects.get(pk=fit.person.dataset_id)
                fit.job = jobs[fit.job_id]
                fit.person.dataset = datasets_by_pk[fit.person.dataset_id]
            points: dict[int, Any] = {}
            by_body: dict[str, list[int]] = {}
            for n, fit in enumerate(chunk):
                by_body.setdefault(fit.job.body_model, []).append(n)
            for body_model, indices in by_body.items():
                if body_model not in bodies:
                    bodies[body_model] = body_for(body_model)[0]  # the job's own (blank: the configured one)
                chosen = [chunk[i] for i in indices]
                projected = fitted_gt24_px(
                    bodies[body_model],
                    np.asarray([f.pose_rotmat for f in chosen], dtype=np.float64),
                    np.asarray([f.betas for f in chosen], dtype=np.float64),
                    np.asarray([f.cam_weak for f in chosen], dtype=np.float64),
                    [person_box(f.person) for f in chosen],
                )
                points.update({i: projected[k] for k, i in enumerate(indices)})
            for n, fit in enumerate(chunk):
                entry = fit_eft_entry(fit)
                entry["truncation_boxes"] = truncation_boxes(points[n])
                # What the crowd said of it, per campaign item (another rule can be applied from here).
                entry["crowd"] = [crowd[i] for i in items_of.get(fit.pk, []) if i in crowd]
                write((b"," if start or n else b"") + canonical_json(entry))
                seen["datasets"].add(fit.person.dataset.name)
                seen["licences"].add(fit.person.dataset.licence or "not stated")
                seen["body_models"].add(fit.body_model or fit.job.body_model or "the configured body model")
                if fit.checkpoint_sha256:
                    seen["checkpoints"].add(fit.checkpoint_sha256)
                seen["methods"].add(fit.job.method)
            taskstate.heartbeat(BenchmarkVersion, version.pk, people_done=start + len(chunk))
        datasets = sorted(seen["datasets"])
        # Nothing here depends on when or as which version it was published: the same votes, fits
        # and rule give the same bytes (and so the same file).
        meta = {
            "dbname": version.benchmark.slug,
            "rawname": ", ".join(datasets),
            "benchmark": version.benchmark.name,
            "rule": version.rule,
            "votes_needed": version.votes_needed,
            "campaigns": [c.name for c in campaigns],
        }
        write(b'],"meta":' + canonical_json(meta) + b',"ver":' + canonical_json(EXPORT_VERSION) + b"}")
        sha = digest.hexdigest()
        name = f"benchmarks/{version.benchmark.slug}/{sha}.json"
        if not default_storage.exists(name):  # the same content published before: the same file
            out.seek(0)
            stored = default_storage.save(name, File(out))
            if stored != name:
                default_storage.delete(stored)
                raise RuntimeError(f"storage renamed {name} to {stored}")
    card = {**figures, **{key: sorted(values) for key, values in seen.items()}}
    card.update(people=len(fit_ids), sha256=sha)
    card["open_body"] = any(getattr(body, "kind", "") == "open" for body in bodies.values())
    return name, sha, size, len(fit_ids), card, fit_ids
