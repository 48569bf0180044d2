from django.urls import path

from accounts import apis

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
]
