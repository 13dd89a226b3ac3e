"""Researcher pages (public, private benchmarks for their readers) and the staff's publishing
forms: benchmarks, versions with their dataset cards, streamed downloads."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from webapp.benchmarks.downloads import archive_response, json_response
from webapp.benchmarks.models import BenchmarkVersion
from webapp.benchmarks.selectors import benchmark_for, published_versions, version_for, visible_benchmarks
from webapp.benchmarks.services import benchmark_create, version_publish_request
from webapp.crowd.models import Campaign


class BenchmarkForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    private = forms.BooleanField(required=False, help_text="only staff and its readers see it")


class PublishForm(forms.Form):
    campaigns = forms.ModelMultipleChoiceField(
        queryset=Campaign.objects.filter(kind=Campaign.Kind.VALIDATION).exclude(state=Campaign.State.DRAFT),
        help_text="validation campaigns whose votes decide",
    )
    rule = forms.ChoiceField(choices=BenchmarkVersion.Rule.choices, initial=BenchmarkVersion.Rule.UNANIMOUS)
    votes_needed = forms.IntegerField(min_value=1, max_value=9, initial=3)
    note = forms.CharField(max_length=500, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["campaigns"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = Campaign.objects.filter(kind=Campaign.Kind.VALIDATION).exclude(
            state=Campaign.State.DRAFT
        )


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    pairs = exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]
    for field, errors in pairs:
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def benchmark_list_page(request: HttpRequest) -> HttpResponse:
    form = BenchmarkForm(request.POST or None) if request.user.is_staff else None
    if form is not None and request.method == "POST" and form.is_valid():
        try:
            benchmark = benchmark_create(**form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            return redirect("benchmarks:detail", slug=benchmark.slug)
    rows = [(b, published_versions(b).first()) for b in visible_benchmarks(request.user)]
    return render(request, "benchmarks/list.html", {"rows": rows, "form": form})


def benchmark_page(request: HttpRequest, slug: str) -> HttpResponse:
    benchmark = benchmark_for(request.user, slug)
    staff = request.user.is_staff
    form = PublishForm(request.POST or None) if staff else None
    if form is not None and request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            version = version_publish_request(
                benchmark=benchmark, campaigns=list(data["campaigns"]), rule=data["rule"],
                votes_needed=data["votes_needed"], note=data["note"],
            )  # fmt: skip
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(
                request, f"Version {version.number} is being published: it appears here when done."
            )
            return redirect("benchmarks:detail", slug=benchmark.slug)
    versions = benchmark.versions.order_by("-number") if staff else published_versions(benchmark)
    return render(
        request, "benchmarks/detail.html", {"benchmark": benchmark, "versions": versions, "form": form}
    )


def version_page(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    from fitting.benchmark import SMPLX_SNIPPET

    version = version_for(request.user, slug, number)
    snippet = SMPLX_SNIPPET.format(json=version.download_name, body="body")
    context = {"version": version, "benchmark": version.benchmark, "snippet": snippet}
    return render(request, "benchmarks/version.html", context)


def version_plot(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    from webapp.benchmarks.services import card_plot_png

    version = version_for(request.user, slug, number)
    return HttpResponse(card_plot_png(version), content_type="image/png")


def version_download(request: HttpRequest, slug: str, number: int) -> FileResponse:
    """The version's JSON file, streamed (a large file never sits in memory)."""
    return json_response(version_for(request.user, slug, number))


def version_archive(request: HttpRequest, slug: str, number: int) -> FileResponse:
    """The version's zip: the JSON, its dataset card (CARD.md) and the body files (open body)."""
    return archive_response(version_for(request.user, slug, number))


@staff_member_required
@require_POST
def version_retry(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    from webapp.benchmarks.services import version_retry as retry

    benchmark = benchmark_for(request.user, slug)
    retry(benchmark.versions.get(number=number))
    messages.success(request, f"Version {number} is queued again.")
    return redirect("benchmarks:detail", slug=slug)


@login_required(login_url="crowd:login")
def api_token_page(request: HttpRequest) -> HttpResponse:
    """The signed-in person's API token (POST makes a new one: the old one stops working)."""
    from rest_framework.authtoken.models import Token

    if request.method == "POST":
        Token.objects.filter(user=request.user).delete()  # type: ignore[misc]  # signed in
        messages.success(request, "A new token: the old one no longer works.")
        return redirect("benchmarks:token")
    token, _ = Token.objects.get_or_create(user=request.user)
    return render(request, "benchmarks/token.html", {"token": token})
