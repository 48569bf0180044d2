"""Auth and profile endpoints under /api/v1/auth/. Thin: parse, call one service, render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import google, phones, services, staff_otp
from accounts.models import User
from accounts.session_tokens import SessionRefreshSerializer
from config import request_context
from config.api import throttles
from config.api.fields import PinField, StrictCharField
from config.api.parsing import parse
from config.errors import ApiError

OK = inline_serializer("Ok", {"detail": serializers.CharField()})


class PhoneField(StrictCharField):
    """A Nigerian mobile number, stored E.164. A bad one is a field error (code
    invalid_phone_number; views map it to INVALID_PHONE_NUMBER with `field_codes`), so the
    other fields' errors are reported with it."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not value:
            return ""
        number = phones.parse_ng_mobile(value)
        if number is None:
            raise serializers.ValidationError(phones.MESSAGE, code="invalid_phone_number")
        return number


class UserOutput(serializers.ModelSerializer):
    email_verified = serializers.BooleanField(read_only=True)
    pin_set = serializers.BooleanField(read_only=True)
    suspended = serializers.BooleanField(source="is_suspended", read_only=True)

    class Meta:
        model = User
        fields = [
            "id", "email", "first_name", "last_name", "phone", "role", "kyc_tier",
            "email_verified", "pin_set", "suspended", "is_staff", "date_joined",
        ]
        read_only_fields = fields


class TokensOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    user = UserOutput()


def _tokens_response(user: User, *, otp_verified: bool = False) -> Response:
    return Response({**services.tokens_for(user, otp_verified=otp_verified), "user": UserOutput(user).data})


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [throttles.RegisterThrottle]

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = StrictCharField(max_length=128, trim_whitespace=False)
        first_name = StrictCharField(max_length=80, required=False, allow_blank=True, default="")
        last_name = StrictCharField(max_length=80, required=False, allow_blank=True, default="")
        phone = PhoneField(required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses={201: UserOutput}, summary="Register a customer")
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data, field_codes={"phone": "INVALID_PHONE_NUMBER"})
        user = services.user_register(**data)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class LoginApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [throttles.LoginIPThrottle, throttles.LoginEmailThrottle]

    class InputSerializer(serializers.Serializer):
        email = StrictCharField(max_length=254)
        password = StrictCharField(max_length=128, trim_whitespace=False)
        otp = StrictCharField(
            max_length=10, required=False, allow_blank=True, default="",
            help_text="Staff with two-factor: the 6-digit code from the authenticator app. Without it such "
            "an account gets 403 OTP_REQUIRED; a wrong code is 401 OTP_INVALID.",
        )

    @extend_schema(request=InputSerializer, responses={200: TokensOutput}, summary="Log in (JWT pair)")
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data)
        second_factor = staff_otp.ApiSecondFactor(code=data["otp"])
        user = services.user_login(
            email=data["email"], password=data["password"], ip=request_context.current().ip, second_factor=second_factor
        )
        if user.is_staff:
            staff_otp.staff_login_record(user=user, second_factor=second_factor.verified, channel="api")
        return _tokens_response(user, otp_verified=second_factor.verified)


class RefreshApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        refresh = StrictCharField()

    @extend_schema(
        request=InputSerializer,
        responses={200: inline_serializer("RefreshOutput", {"access": serializers.CharField(), "refresh": serializers.CharField()})},
        summary="Rotate the refresh token (the old one is blacklisted)",
    )
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data)
        serializer = SessionRefreshSerializer(data=data)  # a staff session's pair never outlives its end
        serializer.is_valid(raise_exception=True)  # InvalidToken -> 401 TOKEN_INVALID
        return Response(serializer.validated_data)


class LogoutApi(APIView):
    allow_when_suspended = True

    class InputSerializer(serializers.Serializer):
        refresh = StrictCharField()

    @extend_schema(request=InputSerializer, responses={200: OK}, summary="Blacklist a refresh token")
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data)
        try:
            token = RefreshToken(data["refresh"])
            if str(token.get("user_id")) != str(request.user.pk):
                raise ApiError(code="TOKEN_INVALID")
            token.blacklist()
        except TokenError as exc:
            raise ApiError(code="TOKEN_INVALID") from exc
        return Response({"detail": "Logged out."})


class VerifyEmailApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [throttles.EmailActionThrottle]

    class InputSerializer(serializers.Serializer):
        token = StrictCharField(max_length=512)

    @extend_schema(request=InputSerializer, responses={200: UserOutput}, summary="Verify the e-mail address")
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data)
        user = services.user_email_verify(token=data["token"])
        return Response(UserOutput(user).data)


class EmailOnlyInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class ResendVerificationApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [throttles.EmailActionThrottle]

    @extend_schema(request=EmailOnlyInput, responses={200: OK}, summary="Send the verification e-mail again")
    def post(self, request: Request) -> Response:
        data = parse(EmailOnlyInput, request.data)
        services.verification_resend(email=data["email"])
        return Response({"detail": "If the address is registered and unverified, an e-mail is on its way."})


class ForgotPasswordApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [throttles.ForgotPasswordThrottle]

    @extend_schema(request=EmailOnlyInput, responses={200: OK}, summary="E-mail a password reset link")
    def post(self, request: Request) -> Response:
        data = parse(EmailOnlyInput, request.data)
        services.password_forgot(email=data["email"])
        # The same answer whether or not the account exists (no enumeration).
        return Response({"detail": "If the address is registered, a reset link is on its way."})


class ResetPasswordApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [throttles.EmailActionThrottle]

    class InputSerializer(serializers.Serializer):
        token = StrictCharField(max_length=512)
        new_password = StrictCharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={200: OK}, summary="Set a new password with a reset token")
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data)
        services.password_reset(token=data["token"], new_password=data["new_password"])
        return Response({"detail": "Password changed; log in with the new password."})


class ChangePasswordApi(APIView):
    class InputSerializer(serializers.Serializer):
        current_password = StrictCharField(max_length=128, trim_whitespace=False)
        new_password = StrictCharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={200: OK}, summary="Change the password")
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data)
        services.password_change(user=request.user, **data)
        return Response({"detail": "Password changed; other sessions are logged out."})


class MeApi(APIView):
    class InputSerializer(serializers.Serializer):
        first_name = StrictCharField(max_length=80, required=False, allow_blank=True)
        last_name = StrictCharField(max_length=80, required=False, allow_blank=True)
        phone = PhoneField(required=False, allow_blank=True)

    @extend_schema(responses={200: UserOutput}, summary="The current user")
    def get(self, request: Request) -> Response:
        return Response(UserOutput(request.user).data)

    @extend_schema(request=InputSerializer, responses={200: UserOutput}, summary="Update the profile")
    def patch(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data, field_codes={"phone": "INVALID_PHONE_NUMBER"})
        user = services.user_profile_update(user=request.user, data=data)
        return Response(UserOutput(user).data)


class PinApi(APIView):
    class InputSerializer(serializers.Serializer):
        pin = PinField()
        current_pin = PinField(required=False)
        password = StrictCharField(max_length=128, required=False, trim_whitespace=False)

    @extend_schema(
        request=InputSerializer,
        responses={200: OK},
        summary="Set the transaction PIN, or change it with the current PIN or the password",
    )
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data)
        services.pin_set(user=request.user, **data)
        return Response({"detail": "PIN set."})


class GoogleLoginApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [throttles.LoginIPThrottle]

    class InputSerializer(serializers.Serializer):
        id_token = StrictCharField(max_length=4096)

    @extend_schema(request=InputSerializer, responses={200: TokensOutput}, summary="Sign in with a Google ID token")
    def post(self, request: Request) -> Response:
        data = parse(self.InputSerializer, request.data)
        user = google.google_login(raw_token=data["id_token"])
        # No code travels with a Google token: staff with two-factor log in with password and code.
        staff_otp.ApiSecondFactor()(user)
        return _tokens_response(user)
