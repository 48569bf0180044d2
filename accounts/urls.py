from django.urls import path

from accounts import apis, apis_keys, apis_kyc, apis_webhooks

urlpatterns = [
    path("auth/register", apis.RegisterApi.as_view(), name="auth-register"),
    path("auth/login", apis.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh", apis.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/verify-email", apis.VerifyEmailApi.as_view(), name="auth-verify-email"),
    path("auth/resend-verification", apis.ResendVerificationApi.as_view(), name="auth-resend-verification"),
    path("auth/forgot-password", apis.ForgotPasswordApi.as_view(), name="auth-forgot-password"),
    path("auth/reset-password", apis.ResetPasswordApi.as_view(), name="auth-reset-password"),
    path("auth/change-password", apis.ChangePasswordApi.as_view(), name="auth-change-password"),
    path("auth/me", apis.MeApi.as_view(), name="auth-me"),
    path("auth/pin", apis.PinApi.as_view(), name="auth-pin"),
    path("auth/google", apis.GoogleLoginApi.as_view(), name="auth-google"),
    # Reseller API: keys, callback endpoints, KYC
    path("keys", apis_keys.KeysApi.as_view(), name="keys"),
    path("keys/rollover", apis_keys.KeyRolloverApi.as_view(), name="keys-rollover"),
    path("keys/<int:key_id>/revoke", apis_keys.KeyRevokeApi.as_view(), name="keys-revoke"),
    path("webhooks", apis_webhooks.WebhooksApi.as_view(), name="webhooks"),
    path("webhooks/<int:endpoint_id>", apis_webhooks.WebhookDeleteApi.as_view(), name="webhooks-delete"),
    path("webhooks/<int:endpoint_id>/deliveries", apis_webhooks.WebhookDeliveriesApi.as_view(), name="webhooks-deliveries"),
    path(
        "webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/resend",
        apis_webhooks.WebhookDeliveryResendApi.as_view(),
        name="webhooks-delivery-resend",
    ),
    path("kyc/submit", apis_kyc.KycSubmitApi.as_view(), name="kyc-submit"),
    path("kyc/status", apis_kyc.KycStatusApi.as_view(), name="kyc-status"),
    path("kyc/resubmit/<int:submission_id>", apis_kyc.KycResubmitApi.as_view(), name="kyc-resubmit"),
]
