"""Staff API routes, included under /api/v1/ by config/urls.py."""

from __future__ import annotations

from django.urls import path

from backoffice import apis

urlpatterns = [
    path("admin/users/<int:user_id>/suspend", apis.UserSuspendApi.as_view(), name="staff-user-suspend"),
    path("admin/users/<int:user_id>/activate", apis.UserActivateApi.as_view(), name="staff-user-activate"),
    path("admin/analytics", apis.AnalyticsApi.as_view(), name="staff-analytics"),
]
