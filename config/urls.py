from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config import observability, views

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("wallets.urls")),
    path("", include("payments.urls")),
    path("", include("vtu.urls")),
    path("", include("pricing.urls")),
    path("", include("audit.urls")),
    path("", include("backoffice.urls")),  # staff API: admin/...
]
if settings.BENCH_ENDPOINTS:  # benchmark runs only (bench/): the bare reference endpoint
    api_v1.append(path("bench/", include("bench.urls")))

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", observability.metrics_view, name="metrics"),  # Prometheus; token or allow-list
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/v1/", include(api_v1)),
    re_path(r"^api/(?P<rest>.*)$", views.api_not_found, name="api-not-found"),  # envelope 404, DEBUG or not
    path("", include("accounts.web_urls")),
    path("", include("payments.web_urls")),
    path(settings.ADMIN_URL, admin.site.urls),
]

handler404 = "config.views.handler404"
handler500 = "config.views.handler500"
