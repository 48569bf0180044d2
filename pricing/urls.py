from django.urls import path

from pricing import apis

urlpatterns = [
    path("admin/pricing", apis.PricingRulesAdminApi.as_view(), name="admin-pricing"),
]
