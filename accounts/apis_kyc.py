"""KYC endpoints under /api/v1/kyc. Submissions take JSON, or multipart/form-data when an ID
document is attached. The BVN/NIN is never echoed back: responses carry the masked form."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import parsers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import kyc
from accounts.models import KYCSubmission
from audit.services import Actor
from config.api.fields import StrictCharField
from config.api.pagination import PageNumberPagination
from config.api.parsing import parse


class SubmissionOutput(serializers.ModelSerializer):
    has_document = serializers.SerializerMethodField()

    class Meta:
        model = KYCSubmission
        fields = ["id", "status", "id_type", "id_number_masked", "requested_tier", "granted_tier", "has_document",
                  "created_at", "decided_at", "decision_reason", "resubmission_of"]
        read_only_fields = fields

    def get_has_document(self, submission: KYCSubmission) -> bool:
        return bool(submission.document)


class LimitsOutput(serializers.Serializer):
    single = serializers.IntegerField(help_text="Largest single purchase or transfer, kobo")
    daily = serializers.IntegerField(help_text="Outflow per Africa/Lagos calendar day, kobo")
    max_balance = serializers.IntegerField(help_text="Largest wallet balance, kobo")


class SubmissionPage(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = SubmissionOutput(many=True)


class StatusOutput(serializers.Serializer):
    kyc_tier = serializers.IntegerField()
    limits = LimitsOutput()
    submissions = SubmissionPage(help_text="Your submissions, newest first: one page (`?page=`, `?page_size=`)")


class SubmissionInput(serializers.Serializer):
    id_type = serializers.ChoiceField(choices=KYCSubmission.IdType.values)
    id_number = StrictCharField(max_length=32, help_text="11-digit BVN or NIN")
    date_of_birth = serializers.DateField()
    tier = serializers.ChoiceField(choices=[1, 2, 3], required=False, help_text="Default: 2 with a document, else 1")
    document = serializers.FileField(required=False, help_text="JPEG, PNG or PDF ID document (multipart only)")


def _submit_fields(request: Request) -> dict[str, Any]:
    data = parse(SubmissionInput, request.data, field_codes={"id_number": "INVALID_ID_NUMBER", "document": "INVALID_FILE"})
    return {**data, "tier": data.get("tier"), "document": data.get("document")}


_PARSERS = [parsers.JSONParser, parsers.MultiPartParser]


class KycSubmitApi(APIView):
    parser_classes = _PARSERS

    @extend_schema(request=SubmissionInput, responses={201: SubmissionOutput}, summary="Submit KYC for a higher tier")
    def post(self, request: Request) -> Response:
        submission = kyc.kyc_submit(user=request.user, actor=Actor.from_request(request), **_submit_fields(request))
        return Response(SubmissionOutput(submission).data, status=status.HTTP_201_CREATED)


class KycResubmitApi(APIView):
    parser_classes = _PARSERS

    @extend_schema(request=SubmissionInput, responses={201: SubmissionOutput}, summary="Resubmit a rejected KYC submission")
    def post(self, request: Request, submission_id: int) -> Response:
        submission = kyc.kyc_resubmit(
            user=request.user, submission_id=submission_id, actor=Actor.from_request(request), **_submit_fields(request)
        )
        return Response(SubmissionOutput(submission).data, status=status.HTTP_201_CREATED)


class KycStatusApi(APIView):
    """One object (your tier and its limits, what a client reads most) carrying your
    submissions as a page-number page, so a long history is read page by page."""

    @extend_schema(
        responses={200: StatusOutput}, summary="Your KYC tier, its limits and your submissions (paginated)",
        parameters=[
            OpenApiParameter("page", int, description="Page of `submissions` (default 1)"),
            OpenApiParameter("page_size", int, description="Submissions per page (default 20, at most 100)"),
        ],
    )
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(kyc.kyc_submissions_for_user(user=request.user), request, view=self)
        return Response({
            "kyc_tier": request.user.kyc_tier,
            "limits": kyc.tier_limits(request.user.kyc_tier),
            "submissions": paginator.get_paginated_response(SubmissionOutput(page, many=True).data).data,
        })
