"""Reseller callback endpoints under /api/v1/webhooks (outbound: we POST to the reseller).

Writes need a JWT (no `api_key_scope`); a key with `read` may list endpoints and deliveries.
Staff with a JWT may open another user's deliveries and re-send one when their staff group
holds the permission (accounts/callback_endpoints.py); to anyone else it does not exist.

These views are for owners first, so they cannot take config.api.permissions.HasStaffPermission
(which refuses every non-staff caller); the same check, `user.has_perm`, is made in the
service for the one case that needs it: someone else's endpoint."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import callback_endpoints, callbacks
from accounts.models import CallbackAttempt, CallbackDelivery, CallbackEndpoint
from audit.services import Actor
from config.api.fields import StrictCharField
from config.api.pagination import CursorPagination, PageNumberPagination
from config.api.parsing import parse


class EndpointOutput(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=callbacks.EVENT_TYPES))
    status = serializers.CharField(read_only=True, help_text="active, disabled (failing for days) or deleted")

    class Meta:
        model = CallbackEndpoint
        fields = ["id", "url", "events", "status", "secret_hint", "created_at", "failing_since", "disabled_at",
                  "disabled_reason"]
        read_only_fields = fields


class CreatedEndpointOutput(EndpointOutput):
    secret = serializers.CharField(help_text="The signing secret. Shown once: store it now.")

    class Meta(EndpointOutput.Meta):
        fields = ["secret", *EndpointOutput.Meta.fields]
        read_only_fields = fields


class AttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = CallbackAttempt
        fields = ["number", "started_at", "outcome", "status_code", "latency_ms", "response_excerpt", "error"]
        read_only_fields = fields


class DeliveryOutput(serializers.ModelSerializer):
    attempt_log = AttemptOutput(many=True, read_only=True)

    class Meta:
        model = CallbackDelivery
        fields = ["id", "event_id", "event_type", "status", "attempts", "created_at", "last_attempt_at",
                  "next_attempt_at", "delivered_at", "last_status_code", "last_error", "attempt_log"]
        read_only_fields = fields


class WebhooksApi(APIView):
    """GET lists the caller's callback endpoints; POST registers one."""

    class InputSerializer(serializers.Serializer):
        url = StrictCharField(max_length=500)
        events = serializers.ListField(
            child=serializers.ChoiceField(choices=callbacks.EVENT_TYPES), allow_empty=False,
            max_length=len(callbacks.EVENT_TYPES),
        )

    @extend_schema(
        responses={200: inline_serializer("CallbackEndpointPage", {  # the page envelope the view really answers
            "count": serializers.IntegerField(), "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True), "results": EndpointOutput(many=True),
        })},
        summary="List your callback endpoints",
    )
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(callback_endpoints.callback_endpoint_list_for_user(user=request.user), request, self)
        return paginator.get_paginated_response(EndpointOutput(page, many=True).data)

    @extend_schema(
        request=InputSerializer, responses={201: CreatedEndpointOutput},
        summary="Register a callback endpoint (https, public address; the signing secret is shown once)",
    )
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data)
        created = callback_endpoints.callback_endpoint_create(
            user=request.user, url=data["url"], events=data["events"], actor=Actor.from_request(request)
        )
        return Response({"secret": created.secret, **EndpointOutput(created.endpoint).data}, status=status.HTTP_201_CREATED)


class WebhookDeleteApi(APIView):
    @extend_schema(request=None, responses={204: None}, summary="Delete a callback endpoint (its delivery log stays)")
    def delete(self, request: Request, endpoint_id: int) -> Response:
        callback_endpoints.callback_endpoint_delete(user=request.user, endpoint_id=endpoint_id, actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryPagination(CursorPagination):
    ordering = "-id"


class WebhookDeliveriesApi(APIView):
    @extend_schema(
        responses={200: inline_serializer("CallbackDeliveryPage", {  # cursor pagination: no count
            "next": serializers.URLField(allow_null=True), "previous": serializers.URLField(allow_null=True),
            "results": DeliveryOutput(many=True),
        })},
        summary="Deliveries to an endpoint, newest first",
    )
    def get(self, request: Request, endpoint_id: int) -> Response:
        endpoint = callback_endpoints.callback_endpoint_get_for_user(
            user=request.user, endpoint_id=endpoint_id, api_key=getattr(request, "api_key", None),
            staff_permission=callback_endpoints.STAFF_READ_PERMISSION,
        )
        paginator = DeliveryPagination()
        page = paginator.paginate_queryset(callback_endpoints.callback_delivery_list(endpoint=endpoint), request, self)
        return paginator.get_paginated_response(DeliveryOutput(page, many=True).data)


class WebhookDeliveryResendApi(APIView):
    class InputSerializer(serializers.Serializer):
        to_endpoint_id = serializers.IntegerField(
            required=False, min_value=1,
            help_text="Send it to this active endpoint of yours (subscribed to the event) instead: for "
                      "what a disabled or deleted endpoint missed. Default: the delivery's own endpoint.",
        )

    @extend_schema(
        request=InputSerializer, responses={202: DeliveryOutput},
        summary="Re-send a delivery (same event id and body), to its endpoint or to another of yours",
    )
    def post(self, request: Request, endpoint_id: int, delivery_id: int) -> Response:
        data = parse(self.InputSerializer, request.data or {})
        delivery = callback_endpoints.callback_delivery_resend(
            user=request.user, endpoint_id=endpoint_id, delivery_id=delivery_id,
            to_endpoint_id=data.get("to_endpoint_id"), api_key=getattr(request, "api_key", None),
            actor=Actor.from_request(request),
        )
        return Response(DeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)
