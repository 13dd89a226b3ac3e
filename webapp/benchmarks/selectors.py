"""Reads of benchmarks: what a visitor may see (private benchmarks: staff and their readers)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from webapp.benchmarks.models import Benchmark, BenchmarkVersion
from webapp.core.taskstate import TaskStatus


def visible_benchmarks(user: Any) -> QuerySet[Benchmark]:
    benchmarks = Benchmark.objects.all()
    if getattr(user, "is_staff", False):
        return benchmarks
    if getattr(user, "is_authenticated", False):
        return benchmarks.filter(Q(private=False) | Q(readers=user)).distinct()
    return benchmarks.filter(private=False)


def benchmark_for(user: Any, slug: str) -> Benchmark:
    """The benchmark, if this visitor may see it (else 404: a private one is not even named)."""
    benchmark = visible_benchmarks(user).filter(slug=slug).first()
    if benchmark is None:
        raise Http404("no such benchmark")
    return benchmark


def published_versions(benchmark: Benchmark) -> QuerySet[BenchmarkVersion]:
    return benchmark.versions.filter(status=TaskStatus.DONE).order_by("-number")


def version_for(user: Any, slug: str, number: int) -> BenchmarkVersion:
    version = published_versions(benchmark_for(user, slug)).filter(number=number).first()
    if version is None:
        raise Http404("no such published version")
    return version
