"""Writes on users: registration, verification, passwords, PIN, profile, suspension, tier.

Each service owns its transaction and its audit record. Nothing here imports `wallets`:
a wallet opens itself on first use (DESIGN §1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import lockout, pins, session_tokens, tasks, tokens
from accounts.errors import EmailNotVerified, InvalidCredentials, InvalidPassword, PinInvalid
from accounts.models import User
from audit.services import Actor, audit_record, diff
from config import request_context
from config.errors import ApiError, InvalidState, NotFound, PermissionDenied, ReasonRequired


def _validation_error(field: str, messages: list[str]) -> ApiError:
    return ApiError(code="VALIDATION_ERROR", detail="Invalid input.", errors={field: messages})


def _validate_password(password: str, user: User | None = None, field: str = "password") -> None:
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise _validation_error(field, list(exc.messages)) from exc


def user_register(
    *, email: str, password: str, first_name: str = "", last_name: str = "", phone: str = ""
) -> User:
    """Create a customer and send the verification e-mail after commit."""
    email = User.objects.normalize_email(email).lower()
    _validate_password(password, User(email=email, first_name=first_name, last_name=last_name))
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email, password=password, first_name=first_name, last_name=last_name, phone=phone
            )
            audit_record(action="user.register", actor=Actor.for_user(user), target=user)
    except IntegrityError as exc:
        field = "phone" if phone and User.objects.filter(phone=phone).exists() else "email"
        raise _validation_error(field, [f"A user with this {field} already exists."]) from exc
    tasks.email_verification_send.delay_on_commit(user.pk)
    return user


def verification_resend(*, email: str) -> None:
    """Answers the same whether or not the address exists or is already verified."""
    user = User.objects.filter(email__iexact=email.strip(), email_verified_at__isnull=True, is_active=True).first()
    if user is not None:
        tasks.email_verification_send.delay_on_commit(user.pk)


@transaction.atomic
def user_email_verify(*, token: str) -> User:
    user = tokens.user_from_verification_token(token)
    now = timezone.now()
    # Conditional update: two clicks of one link verify once.
    if not User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(email_verified_at=now):
        raise tokens.InvalidToken()
    user.email_verified_at = now
    audit_record(action="user.email_verify", actor=Actor.for_user(user), target=user)
    return user


def tokens_for(user: User, *, otp_verified: bool = False) -> dict[str, str]:
    """The JWT pair; a staff member's is a capped staff session (accounts/session_tokens.py)."""
    return session_tokens.token_pair(user, otp_verified=otp_verified)


def user_login(
    *, email: str, password: str, ip: str | None, second_factor: Callable[[User], None] | None = None
) -> User:
    """Check credentials under the per-(account, IP) and per-IP lockout. `second_factor(user)`,
    when given, runs after the password and raises to refuse; a refusal counts as a failed
    login only when it says the code was wrong (so guessing codes locks out like guessing
    passwords, as at the console)."""
    from django.conf import settings
    from django.contrib.auth import authenticate

    lockout.ensure_not_locked(email=email, ip=ip)
    user = authenticate(username=email.strip().lower(), password=password)
    if user is None:
        lockout.record_failure(email=email, ip=ip)
        raise InvalidCredentials()
    if second_factor is not None:
        try:
            second_factor(user)
        except ApiError as refused:
            if refused.code == "OTP_INVALID":
                lockout.record_failure(email=email, ip=ip)
            raise
    lockout.record_success(email=email, ip=ip)
    if settings.REQUIRE_VERIFIED_EMAIL and not user.email_verified:
        raise EmailNotVerified()
    return user


def refresh_tokens_revoke_all(*, user: User) -> int:
    """Blacklist every outstanding refresh token of `user` (after a password change/reset)."""
    outstanding = OutstandingToken.objects.filter(user=user).exclude(blacklistedtoken__isnull=False)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(outstanding)


def password_forgot(*, email: str) -> None:
    """Send a reset link if the account exists; the caller answers the same either way."""
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is not None:
        tasks.email_password_reset_send.delay_on_commit(user.pk)


@transaction.atomic
def password_reset(*, token: str, new_password: str) -> User:
    """Locks the user row before checking the token, so one token resets once however many
    requests race. Raises INVALID_TOKEN, VALIDATION_ERROR."""
    user = tokens.user_from_reset_token(token, lock=True)
    _validate_password(new_password, user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])  # changes the hash: the token is now spent
    refresh_tokens_revoke_all(user=user)
    audit_record(action="user.password_reset", actor=Actor.for_user(user), target=user)
    return user


def _password_confirm(*, user: User, password: str, field: str) -> None:
    """Check the account password given to confirm a change. Wrong ones count towards the
    failed-login lockout (per account and IP, and per IP), so a stolen access token cannot be
    used to guess the password here instead of at the log-in. Raises LOGIN_LOCKED or
    INVALID_PASSWORD."""
    ip = request_context.current().ip
    lockout.ensure_not_locked(email=user.email, ip=ip)
    if not user.check_password(password):
        lockout.record_failure(email=user.email, ip=ip)
        raise InvalidPassword(errors={field: ["The password is wrong."]})
    lockout.record_success(email=user.email, ip=ip)


@transaction.atomic
def password_change(*, user: User, current_password: str, new_password: str) -> None:
    """Raises LOGIN_LOCKED, INVALID_PASSWORD (counted like a failed log-in), VALIDATION_ERROR."""
    _password_confirm(user=user, password=current_password, field="current_password")
    _validate_password(new_password, user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    refresh_tokens_revoke_all(user=user)
    audit_record(action="user.password_change", actor=Actor.for_user(user), target=user)


def pin_set(*, user: User, pin: str, current_pin: str | None = None, password: str | None = None) -> None:
    """Set the PIN, or change it given the current PIN or the account password.

    A wrong current PIN counts towards the lock (pins.pin_verify); the password route is
    how a user who forgot or locked their PIN sets a new one."""
    if not pins.is_valid_pin_format(pin):
        raise _validation_error("pin", ["The PIN must be exactly 4 digits."])
    if user.pin_set:
        if password:
            _password_confirm(user=user, password=password, field="password")
        elif current_pin:
            pins.pin_verify(user_id=user.pk, pin=current_pin)
        else:
            raise _validation_error("current_pin", ["Send current_pin or password to change the PIN."])
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(
            pin_hash=pins.pin_digest(user_id=user.pk, pin=pin), pin_failed_attempts=0, pin_locked_until=None
        )
        audit_record(action="user.pin_set", actor=Actor.for_user(user), target=user)
    user.refresh_from_db(fields=["pin_hash", "pin_failed_attempts", "pin_locked_until"])


def pin_check(*, user: User, pin: Any) -> None:
    """For money endpoints: the PIN given with the request must be right. `user` is the
    request's user, loaded by authentication in this request: its digest and lock are used
    as read (pins.pin_verify `known`), and the attempt is guarded in the database."""
    if not isinstance(pin, str):
        raise PinInvalid()
    pins.pin_verify(user_id=user.pk, pin=pin, known=(user.pin_hash, user.pin_locked_until))


@transaction.atomic
def user_profile_update(*, user: User, data: dict[str, Any]) -> User:
    allowed = {"first_name", "last_name", "phone"}
    before = {field: getattr(user, field) for field in allowed}
    for field, value in data.items():
        if field in allowed:
            setattr(user, field, value)
    try:
        with transaction.atomic():
            user.save(update_fields=list(allowed))
    except IntegrityError as exc:
        raise _validation_error("phone", ["A user with this phone already exists."]) from exc
    changes = diff(before, {field: getattr(user, field) for field in allowed})
    if changes:
        audit_record(action="user.profile_update", actor=Actor.for_user(user), target=user, changes=changes)
    return user


def _staff_change(*, staff: Actor, user_id: int, action: str, reason: str, **fields: Any) -> User:
    if not (reason or "").strip():
        raise ReasonRequired()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise NotFound()
        before = {field: getattr(user, field) for field in fields}
        for field, value in fields.items():
            setattr(user, field, value)
        user.save(update_fields=list(fields))
        audit_record(
            action=action, actor=staff, target=user, reason=reason.strip(),
            changes=diff(before, fields),
        )
    return user


def user_suspend(*, staff: Actor, user_id: int, reason: str) -> User:
    return _staff_change(
        staff=staff, user_id=user_id, action="user.suspend", reason=reason,
        suspended_at=timezone.now(), suspension_reason=(reason or "").strip(),
    )


def user_activate(*, staff: Actor, user_id: int, reason: str) -> User:
    return _staff_change(
        staff=staff, user_id=user_id, action="user.activate", reason=reason, suspended_at=None, suspension_reason=""
    )


def user_kyc_tier_set(*, staff: Actor, user_id: int, tier: int, reason: str) -> User:
    if tier not in (0, 1, 2, 3):
        raise _validation_error("tier", ["The tier must be 0, 1, 2 or 3."])
    return _staff_change(staff=staff, user_id=user_id, action="user.kyc_tier_change", reason=reason, kyc_tier=tier)


def staff_role_set(*, staff: Actor, user_id: int, group: str | None, reason: str) -> User:
    """Make a user staff in exactly one group (`group`, a name such as "support"), move a staff
    member to another group, or with `group=None` remove their staff access (is_staff off, no
    groups). The console and the staff API check who may do this (an administrator); the rules
    that hold however it is reached are here.

    Locks: the user row. Idempotent: the same group again changes nothing and writes no audit
    row. Raises REASON_REQUIRED, NOT_FOUND, VALIDATION_ERROR (no such group), PERMISSION_DENIED
    (your own account: nobody locks themselves out or promotes themselves), INVALID_STATE (a
    superuser: managed with manage.py, not from the console)."""
    from django.contrib.auth.models import Group

    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    target_group = None
    if group is not None:
        target_group = Group.objects.filter(name=group).first()
        if target_group is None:
            raise _validation_error("group", [f"No staff group {group!r}."])
    if staff.user_id == user_id:
        raise PermissionDenied("You cannot change your own staff role.")
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise NotFound()
        if user.is_superuser:
            raise InvalidState("A superuser's access is managed with manage.py, not from the console.")
        before = {"is_staff": user.is_staff, "groups": sorted(user.groups.values_list("name", flat=True))}
        after = {"is_staff": target_group is not None, "groups": [group] if group is not None else []}
        if before == after:
            return user
        User.objects.filter(pk=user.pk).update(is_staff=after["is_staff"])
        user.groups.set([target_group] if target_group is not None else [])
        audit_record(action="staff.role_set", actor=staff, target=user, reason=reason, changes=diff(before, after))
    user.refresh_from_db()
    return user
