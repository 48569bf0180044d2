"""Mounted under /api/v1/bench/ only when settings.BENCH_ENDPOINTS is on (config/urls.py)."""

from django.urls import path

from bench import views

urlpatterns = [
    path("bare", views.BareWriteApi.as_view(), name="bench-bare"),
]
