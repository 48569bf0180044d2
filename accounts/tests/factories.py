from __future__ import annotations

import factory
from django.utils import timezone

from accounts import pins
from accounts.models import User

PASSWORD = "correct-horse-9"
PIN = "1234"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = "Ade"
    last_name = "Bello"
    email_verified_at = factory.LazyFunction(timezone.now)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def pin(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        value = PIN if extracted is None else extracted
        if value:
            self.pin_hash = pins.pin_digest(user_id=self.pk, pin=value)
        if create:
            self.save()


class StaffFactory(UserFactory):
    is_staff = True
