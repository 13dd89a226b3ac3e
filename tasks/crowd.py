"""Crowd tasks: thin adapters over webapp.crowd.mturk (the MTurk provider)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import shared_task

from webapp.crowd import mturk


@shared_task(name="tasks.crowd.sync_mturk_campaigns", ignore_result=True)
def sync_mturk_campaigns_task() -> dict[str, Any]:
    """Beat (every 2 minutes): MTurk's assignments onto the app's, for every open or closed MTurk
    campaign, and the app's worker blocks onto MTurk. Does nothing unless MTURK_ENABLED; safe to
    run twice (it records what MTurk says)."""
    return mturk.mturk_campaigns_sync()


@shared_task(name="tasks.crowd.launch_mturk_campaign", ignore_result=True)
def launch_mturk_campaign_task(campaign_id: int) -> dict[str, Any]:
    """Launch (or finish launching) a draft MTurk campaign; safe to run again after a failure."""
    return asdict(mturk.campaign_launch_recorded(mturk.mturk_campaign(campaign_id)))


@shared_task(name="tasks.crowd.review_mturk_campaign", ignore_result=True)
def review_mturk_campaign_task(campaign_id: int, soft_reject: bool = False) -> dict[str, Any]:
    """Sync, review the submitted assignments, then pay the bonuses owed (in that order)."""
    campaign = mturk.mturk_campaign(campaign_id)
    client = mturk.mturk_client(campaign.sandbox)
    sync = mturk.campaign_sync(campaign, client=client)
    review = mturk.assignments_review(campaign, client=client, soft_reject=soft_reject)
    bonuses = mturk.bonuses_pay(campaign, client=client)
    return {"sync": asdict(sync), "review": asdict(review), "bonuses": asdict(bonuses)}


@shared_task(name="tasks.crowd.expire_mturk_campaign", ignore_result=True)
def expire_mturk_campaign_task(campaign_id: int) -> dict[str, Any]:
    """Expire every MTurk HIT of a campaign now."""
    return asdict(mturk.campaign_expire(mturk.mturk_campaign(campaign_id)))


@shared_task(name="tasks.crowd.expire_assignments", ignore_result=True)
def expire_assignments_task() -> int:
    """Beat (every minute): open assignments past their time are marked expired (their places in
    their HITs were already free; this keeps the states true on the staff pages)."""
    from webapp.crowd.assignments import assignments_expire

    return assignments_expire()
