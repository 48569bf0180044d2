from django.urls import path

from payments import pages

# Pages outside the API (the sandbox gateway checkout page).
urlpatterns = [
    path("sandbox/checkout/<str:reference>", pages.sandbox_checkout_page, name="sandbox-checkout"),
]
