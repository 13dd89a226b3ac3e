"""REST API of crowd work: the vote endpoint the HIT page calls."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.core.throttling import WindowRateThrottle
from webapp.crowd.assignments import RefusedError, vote_record


class VoteInSerializer(serializers.Serializer[dict[str, Any]]):
    token = serializers.CharField(max_length=2000, help_text="the assignment's token, from its HIT page")
    step = serializers.IntegerField(min_value=0, help_text="the item's place in the assignment (from 0)")
    answer = serializers.CharField(max_length=16, help_text="accept / reject; A/B: left / right")
    seconds = serializers.FloatField(min_value=0, max_value=1e6, help_text="time on the item")


class VoteOutSerializer(serializers.Serializer[dict[str, Any]]):
    vote = serializers.IntegerField()
    repeated = serializers.BooleanField(help_text="true: the same vote was submitted before")
    remaining = serializers.IntegerField(help_text="items of the assignment still to answer")
    submitted = serializers.BooleanField(help_text="the assignment is complete")


class VoteApi(APIView):
    """One answer of an assignment's worker. Authenticated by the assignment's signed token
    alone (MTurk frames the page cross-site: no cookie, hence no session and no CSRF token);
    rate limited per client address (CROWD_VOTE_RATE)."""

    authentication_classes = ()
    permission_classes = (permissions.AllowAny,)
    throttle_classes = (WindowRateThrottle,)
    throttle_scope = "crowd-vote"

    @extend_schema(request=VoteInSerializer, responses={200: VoteOutSerializer, 201: VoteOutSerializer})
    def post(self, request: Request) -> Response:
        incoming = VoteInSerializer(data=request.data)
        if not incoming.is_valid():
            problems = "; ".join(f"{field}: {' '.join(map(str, e))}" for field, e in incoming.errors.items())
            return Response({"detail": problems}, status=status.HTTP_400_BAD_REQUEST)
        data = incoming.validated_data
        try:
            result = vote_record(
                token=data["token"], step=data["step"], answer=data["answer"], seconds=data["seconds"]
            )
        except RefusedError as refusal:
            return Response({"detail": refusal.message, "settled": refusal.settled}, status=refusal.status)
        body = VoteOutSerializer(
            {"vote": result.vote.pk, "repeated": not result.created, "remaining": result.remaining,
             "submitted": result.submitted}
        ).data  # fmt: skip
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class CampaignProgressSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    state = serializers.CharField()
    items_total = serializers.IntegerField(help_text="items to judge (gold items left out)")
    items_complete = serializers.IntegerField(help_text="items with all their votes")
    votes_in = serializers.IntegerField()
    votes_wanted = serializers.IntegerField()
    percent = serializers.FloatField()
    hits = serializers.IntegerField()
    assignments = serializers.DictField(child=serializers.IntegerField(), help_text="by state")
    workers = serializers.IntegerField()
    gold_votes = serializers.IntegerField()
    gold_accuracy = serializers.FloatField(allow_null=True)
    cost_cents = serializers.IntegerField(
        help_text="finished assignments at the reward (MTurk's fee not included)"
    )
    budget_cents = serializers.IntegerField()
    budget_left_cents = serializers.IntegerField(allow_null=True)


class CampaignProgressApi(APIView):
    """A campaign's live figures (staff)."""

    permission_classes = (permissions.IsAdminUser,)

    @extend_schema(responses=CampaignProgressSerializer)
    def get(self, request: Request, campaign_id: int) -> Response:
        from django.shortcuts import get_object_or_404

        from webapp.crowd.models import Campaign
        from webapp.crowd.selectors import campaign_progress

        campaign = get_object_or_404(Campaign, pk=campaign_id)
        return Response(CampaignProgressSerializer(campaign_progress(campaign)).data)
