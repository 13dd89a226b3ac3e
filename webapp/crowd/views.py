"""Pages of crowd work: the HIT page (MTurk's ExternalQuestion target and the in-house queue's
page), the in-house worker's queue, sign-in and invitation, the instructions.

HIT pages alone may be framed, and only by the MTurk worker sites (CSP frame-ancestors); every
other page keeps Django's X-Frame-Options DENY. The HIT page sends votes to ``crowd:vote`` with
the assignment's signed token (no cookie: MTurk's frame is cross-site).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_POST

from webapp.crowd.assignments import (
    RefusedError,
    assignment_for_mturk,
    assignment_next_inhouse,
    assignment_token,
    hit_key_valid,
)
from webapp.crowd.models import Assignment, Campaign, Hit, Provider
from webapp.crowd.selectors import (
    PREVIEW_SECONDS,
    assignment_steps,
    picture_file,
    preview_steps,
    worker_queue,
)
from webapp.crowd.services import invite_accept, invite_find, worker_for_user

NOT_AVAILABLE = "ASSIGNMENT_ID_NOT_AVAILABLE"
WORKER_LOGIN = "crowd:login"


def hit_frame_policy(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A HIT page may be framed by the MTurk worker sites only; it loads its own scripts, styles
    and pictures, and its form posts only to this app or a worker site."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        sites = " ".join(settings.CROWD_WORKER_SITES)
        images = "'self' data: https:" if settings.MEDIA_STORAGE == "s3" else "'self' data:"
        response["Content-Security-Policy"] = (
            f"frame-ancestors 'self' {sites}; default-src 'self'; img-src {images}; "
            f"form-action 'self' {sites}; base-uri 'none'; object-src 'none'"
        )
        response["Referrer-Policy"] = "same-origin"  # "no-referrer" makes Origin "null": CSRF refuses
        return response

    return xframe_options_exempt(wrapped)


def _submit_to(value: str) -> str:
    """MTurk's turkSubmitTo, if it is one of the worker sites (the form posts nowhere else)."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:  # e.g. "https://[x": not a URL at all
        raise RefusedError(400, "turkSubmitTo is not an MTurk worker site") from None
    origin = f"{parts.scheme}://{parts.netloc}"
    if not parts.netloc or origin not in settings.CROWD_WORKER_SITES or parts.path.strip("/"):
        raise RefusedError(400, f"turkSubmitTo {value!r} is not an MTurk worker site")
    return f"{origin}/mturk/externalSubmit"


def _hit_context(campaign: Campaign, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "campaign": campaign,
        "ab": campaign.kind == Campaign.Kind.AB,
        "steps_total": len(steps),
        "hit_data": {
            "kind": campaign.kind,
            "steps": steps,
            "voteUrl": reverse("crowd:vote"),
            "token": extra.get("token", ""),
            "mode": extra.get("mode", "preview"),
        },
        **extra,
    }


def _assignment_page(request: HttpRequest, assignment: Assignment, **extra: Any) -> HttpResponse:
    """The HIT page of an issued assignment, with its token (MTurk's and the in-house one)."""
    steps = assignment_steps(assignment)
    context = _hit_context(
        assignment.hit.campaign, steps, token=assignment_token(assignment), assignment=assignment, **extra
    )
    return render(request, "crowd/hit.html", context)


def _refused(request: HttpRequest, refusal: RefusedError) -> HttpResponse:
    return render(request, "crowd/hit_refused.html", {"message": refusal.message}, status=refusal.status)


@hit_frame_policy
def hit_page(request: HttpRequest, hit_id: int) -> HttpResponse:
    """An MTurk HIT (the ExternalQuestion's URL): preview, or the worker's assignment."""
    hit = Hit.objects.select_related("campaign").filter(pk=hit_id).first()
    if hit is None or not hit_key_valid(hit_id, request.GET.get("key", "")):
        raise Http404("no such HIT")
    campaign = hit.campaign
    if campaign.provider != Provider.MTURK:
        raise Http404("no such HIT")  # in-house HITs are worked from the queue (/work/)
    if campaign.state != Campaign.State.OPEN:
        return _refused(
            request, RefusedError(410, f"this HIT's campaign is {campaign.state}: it takes no work")
        )
    assignment_id = request.GET.get("assignmentId", "")
    if not assignment_id or assignment_id == NOT_AVAILABLE:
        return render(
            request,
            "crowd/hit.html",
            _hit_context(
                campaign, preview_steps(hit), mode="preview", preview=True, lifetime=PREVIEW_SECONDS
            ),
        )
    try:
        submit_to = _submit_to(request.GET.get("turkSubmitTo", ""))
        if not hit.provider_hit_id or request.GET.get("hitId") != hit.provider_hit_id:
            raise RefusedError(400, "hitId does not match this HIT")
        worker_id = request.GET.get("workerId", "").strip()
        if not worker_id or len(worker_id) > 128:
            raise RefusedError(400, "workerId is missing")
        assignment = assignment_for_mturk(hit=hit, worker_id=worker_id, assignment_id=assignment_id)
    except RefusedError as refusal:
        return _refused(request, refusal)
    return _assignment_page(request, assignment, mode="mturk", submit_to=submit_to)


@login_required(login_url=WORKER_LOGIN)
@hit_frame_policy
def assignment_page(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """An in-house worker's assignment (its own only)."""
    assignment = get_object_or_404(
        Assignment.objects.select_related("hit__campaign", "worker"),
        pk=assignment_id,
        worker__user=request.user,
        worker__provider=Provider.INHOUSE,
    )
    if assignment.state != Assignment.State.ACCEPTED and not assignment.votes.exists():
        return redirect("crowd:queue")
    return _assignment_page(request, assignment, mode="inhouse")


@login_required(login_url=WORKER_LOGIN)
def queue_page(request: HttpRequest) -> HttpResponse:
    """An in-house worker's queue: what is open, and the next HIT."""
    worker = worker_for_user(request.user)  # type: ignore[arg-type]
    if request.method == "POST":
        assignment = assignment_next_inhouse(worker)
        if assignment is not None:
            return redirect("crowd:assignment", assignment_id=assignment.pk)
        messages.info(request, "No HIT is waiting for you right now: thank you! Come back later.")
        return redirect("crowd:queue")
    return render(request, "crowd/queue.html", {"worker": worker, **worker_queue(worker)})


class JoinForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="what you sign in with")
    password = forms.CharField(widget=forms.PasswordInput, min_length=8)
    password_again = forms.CharField(widget=forms.PasswordInput, label="Password (again)")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "the two passwords differ")
        return data


def join_page(request: HttpRequest, code: str) -> HttpResponse:
    """Accept an invitation: choose a name and a password, then work."""
    try:
        invite = invite_find(code)
    except ValidationError as exc:
        return render(request, "crowd/join.html", {"refused": exc.messages[0]}, status=410)
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            worker = invite_accept(
                code=code, username=form.cleaned_data["username"], password=form.cleaned_data["password"]
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                form.add_error("password", exc)
        else:
            assert worker.user is not None
            login(request, worker.user, backend=settings.AUTHENTICATION_BACKENDS[0])
            return redirect("crowd:queue")
    return render(request, "crowd/join.html", {"form": form, "invite": invite})


def instructions_page(request: HttpRequest) -> HttpResponse:
    """How to judge a fit, with examples of right and wrong fits made like the gold items."""
    from webapp.crowd.selectors import gold_examples

    return render(request, "crowd/instructions.html", {"examples": gold_examples()})


class WorkerLoginView(LoginView):
    """Sign-in for in-house workers (accounts without staff rights; staff may use it too)."""

    template_name = "crowd/login.html"
    next_page = "crowd:queue"


def hit_picture(request: HttpRequest, signed: str) -> HttpResponse | FileResponse:
    """One picture of a HIT page, by its opaque signed address (webapp.crowd.selectors
    .picture_url): no session needed (MTurk's frame is cross-site); expired or forged: 403."""
    name = picture_file(signed)
    if not name:
        return HttpResponseForbidden("this picture is not yours to see, or its address expired")
    response = FileResponse(default_storage.open(name, "rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    from django.contrib.auth import logout

    logout(request)
    return redirect("crowd:login")
