from django.urls import path  # noqa: F401

# Pages outside the API (the sandbox gateway checkout page).
urlpatterns: list = []
