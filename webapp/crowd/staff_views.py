"""Staff pages of crowd work: campaigns (make, open, close, live progress), the review of items
where voters disagreed (and marking a reviewed item as gold), workers (statistics, block,
invitations)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from webapp.core.models import field_default
from webapp.core.taskstate import TaskStatus
from webapp.crowd.assignments import worker_block, worker_unblock
from webapp.crowd.models import Campaign, GoldItem, Invite, Item, Provider, Worker
from webapp.crowd.selectors import (
    campaign_disagreements,
    campaign_progress,
    campaign_results,
    worker_list,
    worker_statistics,
)
from webapp.crowd.services import (
    SELECTIONS,
    campaign_close,
    campaign_create_ab,
    campaign_create_validation,
    campaign_open,
    gold_mark_reviewed,
    invite_create,
)
from webapp.fits.models import FitJob


def _done_jobs() -> Any:
    return (
        FitJob.objects.filter(status=TaskStatus.DONE)
        .exclude(method=FitJob.Method.GOLD)
        .select_related("dataset")
    )


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=Campaign.Kind.choices, initial=Campaign.Kind.VALIDATION)
    job = forms.ModelChoiceField(queryset=_done_jobs(), help_text="a finished fit job (A/B: fit A)")
    job_b = forms.ModelChoiceField(queryset=_done_jobs(), required=False, help_text="A/B: fit B, same people")
    selection = forms.ChoiceField(
        choices=[(s, s) for s in SELECTIONS],
        initial="all",
        help_text="validation: all fits, those passing the sanity rule, or a sample",
    )
    sample_size = forms.IntegerField(min_value=1, required=False, help_text="selection 'sample': how many")
    votes_per_item = forms.IntegerField(
        min_value=1, max_value=9, initial=field_default(Campaign, "votes_per_item")
    )
    items_per_hit = forms.IntegerField(
        min_value=1, max_value=100, initial=field_default(Campaign, "items_per_hit")
    )
    reward_cents = forms.IntegerField(
        min_value=0,
        max_value=10_000,
        initial=field_default(Campaign, "reward_cents"),
        label="Reward (cents per HIT)",
    )
    gold_rate = forms.FloatField(min_value=0.0, max_value=0.5, initial=field_default(Campaign, "gold_rate"))
    provider = forms.ChoiceField(choices=Provider.choices, initial=Provider.INHOUSE)
    budget_cents = forms.IntegerField(
        min_value=0, max_value=100_000_000, initial=0, label="Budget (cents; 0: no limit in-house)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("job", "job_b"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = _done_jobs()


@staff_member_required
def campaign_list_page(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        options = {
            k: data[k]
            for k in (
                "votes_per_item",
                "items_per_hit",
                "reward_cents",
                "gold_rate",
                "provider",
                "budget_cents",
            )
        }
        try:
            if data["kind"] == Campaign.Kind.AB:
                if data["job_b"] is None:
                    raise ValidationError({"job_b": "an A/B campaign needs job B"})
                campaign = campaign_create_ab(
                    name=data["name"], job_a=data["job"], job_b=data["job_b"], **options
                )
            else:
                campaign = campaign_create_validation(
                    name=data["name"], job=data["job"], selection=data["selection"],
                    sample_size=data["sample_size"] or 0, **options,
                )  # fmt: skip
        except ValidationError as exc:
            for field, errors in (
                exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]
            ):
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(
                request,
                f"Campaign {campaign.name!r} made: {campaign.items.count()} items in "
                f"{campaign.hits.count()} HITs. Open it when ready.",
            )
            return redirect("crowd:campaign", campaign_id=campaign.pk)
    campaigns = [(c, campaign_progress(c)) for c in Campaign.objects.select_related("job__dataset")]
    return render(request, "crowd/campaigns.html", {"campaigns": campaigns, "form": form})


@staff_member_required
def campaign_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    related = ("job__dataset", "job__regressor", "job_b__regressor")
    campaign = get_object_or_404(Campaign.objects.select_related(*related), pk=campaign_id)
    progress = campaign_progress(campaign)
    workers = worker_list().filter(votes__item__campaign=campaign).distinct()
    states = [(state, n) for state, n in progress["assignments"].items() if n]
    context = {
        "campaign": campaign, "progress": progress, "workers": workers, "assignment_states": states,
        "results": campaign_results(campaign),
    }  # fmt: skip
    return render(request, "crowd/campaign.html", context)


@staff_member_required
@require_POST
def campaign_action(request: HttpRequest, campaign_id: int, action: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    try:
        if action == "open":
            campaign_open(campaign)
            messages.success(
                request,
                f"Campaign {campaign.name!r} is open: workers get its HITs once their pictures are drawn.",
            )
        elif action in MTURK_ACTIONS:
            _mturk_action(campaign, action)
            messages.success(request, MTURK_ACTIONS[action])
        elif action in ("close", "cancel"):
            campaign_close(campaign, cancel=action == "cancel")
            messages.success(request, f"Campaign {campaign.name!r} is {campaign.state}.")
        else:
            messages.error(request, f"unknown action {action!r}")
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
    return redirect("crowd:campaign", campaign_id=campaign.pk)


MTURK_ACTIONS = {
    "launch": "Launching on MTurk: the HITs are being made (reload to follow; a failure is shown here, "
    "and launching again resumes it).",
    "sync-review": "Syncing, reviewing (approve; reject who failed gold) and paying bonuses on MTurk.",
    "sync-soft-review": "Syncing and reviewing on MTurk with soft rejects (blocked workers paid, their votes "
    "left out).",
    "expire": "Expiring the campaign's HITs on MTurk (workers holding one may still finish it).",
}


def _mturk_action(campaign: Campaign, action: str) -> None:
    """Send an MTurk action of a campaign to the workers (once the request's transaction commits)."""
    from django.db import transaction

    from tasks.crowd import expire_mturk_campaign_task, launch_mturk_campaign_task, review_mturk_campaign_task

    if campaign.provider != Provider.MTURK:
        raise ValidationError({"provider": f"campaign {campaign.name!r} is not on MTurk"})
    if action == "launch":
        transaction.on_commit(lambda: launch_mturk_campaign_task.delay(campaign.pk))
    elif action in ("sync-review", "sync-soft-review"):
        soft = action == "sync-soft-review"
        transaction.on_commit(lambda: review_mturk_campaign_task.delay(campaign.pk, soft_reject=soft))
    else:
        transaction.on_commit(lambda: expire_mturk_campaign_task.delay(campaign.pk))


class GoldForm(forms.Form):
    item = forms.IntegerField(widget=forms.HiddenInput)
    answer = forms.ChoiceField(choices=GoldItem.Answer.choices)
    reason = forms.CharField(max_length=300)


@staff_member_required
def campaign_review_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    if request.method == "POST":
        form = GoldForm(request.POST)
        if form.is_valid():
            item = get_object_or_404(Item, pk=form.cleaned_data["item"], campaign=campaign)
            try:
                gold = gold_mark_reviewed(
                    fit=item.fit, answer=form.cleaned_data["answer"], reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                for error in exc.messages:
                    messages.error(request, error)
            else:
                messages.success(
                    request,
                    f"Fit {item.fit_id} is now a gold item ({gold.answer}): later campaigns mix it in.",
                )
        else:
            messages.error(request, "choose an answer and say why")
        return redirect(reverse("crowd:campaign-review", args=[campaign.pk]))
    return render(
        request, "crowd/review.html", {"campaign": campaign, "rows": campaign_disagreements(campaign)}
    )


class InviteForm(forms.Form):
    note = forms.CharField(
        max_length=200, required=False, help_text="who it is for (the join page shows it too)"
    )


@staff_member_required
def worker_list_page(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        invite = invite_create(note=form.cleaned_data["note"], created_by=request.user)  # type: ignore[arg-type]
        link = request.build_absolute_uri(reverse("crowd:join", args=[invite.code]))
        messages.success(
            request, f"Invitation made: send this link (valid until {invite.expires_at:%Y-%m-%d}): {link}"
        )
        return redirect("crowd:workers")
    invites = Invite.objects.filter(used_at=None).order_by("-created_at")[:20]
    return render(request, "crowd/workers.html", {"workers": worker_list(), "form": form, "invites": invites})


@staff_member_required
def worker_page(request: HttpRequest, worker_id: int) -> HttpResponse:
    worker = get_object_or_404(Worker, pk=worker_id)
    if request.method == "POST":
        if request.POST.get("action") == "block":
            worker_block(worker, request.POST.get("reason", "").strip() or "blocked by staff")
            messages.success(request, f"{worker} is blocked.")
        elif request.POST.get("action") == "unblock":
            worker_unblock(worker)
            messages.success(request, f"{worker} may work again.")
        return redirect("crowd:worker", worker_id=worker.pk)
    return render(request, "crowd/worker.html", {"worker": worker, "stats": worker_statistics(worker)})
