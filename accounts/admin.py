from django.contrib import admin  # noqa: F401

from accounts import admin_reseller  # noqa: F401 - registers the reseller API models
