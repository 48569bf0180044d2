"""KYC: a user asks for a higher tier with a BVN or NIN, a date of birth and optionally an ID
document; staff approve (the user's `kyc_tier` rises, and with it the limits that
`wallets.limits_for_tier` reads from KYC_TIER_LIMITS_KOBO) or reject with a reason.

The BVN/NIN is never stored, logged or returned: only a masked form (last 4 digits) and an
HMAC-SHA256 under KYC_IDENTITY_HMAC_KEY (a plain hash of 11 digits is reversed by trying all
10^11 values; without the key that is impossible), which lets staff see when one identity is
used by several accounts. Documents go to the default storage (local files, or S3-compatible
storage when configured) under a random name; their type is read from the file's first bytes,
never from the name or the client's Content-Type.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from datetime import date
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import KYCSubmission, User
from audit.services import Actor, audit_record
from config.errors import ApiError, InvalidState, NotFound, ReasonRequired

_ID_RE = re.compile(r"^\d{11}$")
# First bytes -> (content type, extension). JPEG, PNG and PDF are what ID scans arrive as.
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"%PDF-", "application/pdf", "pdf"),
)
MIN_AGE_YEARS = 18


class InvalidIdNumber(ApiError):
    code = "INVALID_ID_NUMBER"


class InvalidFile(ApiError):
    code = "INVALID_FILE"


def _hmac_key() -> bytes:
    """KYC_IDENTITY_HMAC_KEY; with DEBUG off the process does not start without it
    (config/startup.py), so the SECRET_KEY-derived key below only serves development. It is
    not rotatable: the numbers are not kept, so digests made under an older key can never be
    recomputed, and a new key only loses the matching of new submissions against old ones."""
    configured = settings.KYC_IDENTITY_HMAC_KEY
    if configured:
        return configured.encode()
    return hmac.new(settings.SECRET_KEY.encode(), b"vtu.accounts.kyc-identity.v1", hashlib.sha256).digest()


def identity_digest(*, id_type: str, id_number: str) -> str:
    return hmac.new(_hmac_key(), f"{id_type}:{id_number}".encode(), hashlib.sha256).hexdigest()


def identity_mask(id_number: str) -> str:
    return "*" * (len(id_number) - 4) + id_number[-4:]


def _clean_id_number(value: str) -> str:
    number = value.strip().replace(" ", "")
    if not _ID_RE.match(number):
        raise InvalidIdNumber(errors={"id_number": ["Exactly 11 digits."]})
    return number


def _check_date_of_birth(born: date) -> None:
    today = timezone.localdate()
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if born.year < 1900 or age < MIN_AGE_YEARS:
        raise ApiError(code="VALIDATION_ERROR", errors={"date_of_birth": [f"You must be at least {MIN_AGE_YEARS}."]})


def document_kind(document: UploadedFile) -> tuple[str, str]:
    """(content type, extension) from the first bytes, or INVALID_FILE; size checked too."""
    if document.size is None or document.size > settings.KYC_DOCUMENT_MAX_BYTES:
        raise InvalidFile(f"The document must be at most {settings.KYC_DOCUMENT_MAX_BYTES} bytes.")
    document.seek(0)
    head = document.read(16)
    document.seek(0)
    for magic, content_type, extension in _SIGNATURES:
        if head.startswith(magic):
            return content_type, extension
    raise InvalidFile("The document must be a JPEG, PNG or PDF file.")


def _requested_tier(user: User, tier: int | None, has_document: bool) -> int:
    requested = tier or (2 if has_document else 1)
    if requested == 3 and not has_document:
        raise ApiError(code="VALIDATION_ERROR", errors={"document": ["Tier 3 needs an ID document."]})
    if requested <= user.kyc_tier:
        raise ApiError(code="VALIDATION_ERROR", errors={"tier": [f"You are already on tier {user.kyc_tier}."]})
    return requested


def kyc_submit(
    *,
    user: User,
    id_type: str,
    id_number: str,
    date_of_birth: date,
    tier: int | None = None,
    document: UploadedFile | None = None,
    resubmission_of: KYCSubmission | None = None,
    actor: Actor | None = None,
) -> KYCSubmission:
    """Record a pending submission. Everything is checked before anything is written (a
    rejection stores no row and no file). Raises INVALID_ID_NUMBER, INVALID_FILE,
    VALIDATION_ERROR, INVALID_STATE (one pending submission per user: a partial unique index)."""
    if id_type not in KYCSubmission.IdType.values:
        raise ApiError(code="VALIDATION_ERROR", errors={"id_type": ["bvn or nin."]})
    number = _clean_id_number(id_number)
    _check_date_of_birth(date_of_birth)
    kind = document_kind(document) if document is not None else None
    requested = _requested_tier(user, tier, document is not None)
    if KYCSubmission.objects.filter(user=user, status=KYCSubmission.Status.PENDING).exists():
        raise InvalidState("A KYC submission is already waiting for review.")
    stored_name = ""
    if document is not None and kind is not None:
        stored_name = default_storage.save(f"kyc/{user.pk}/{uuid.uuid4().hex}.{kind[1]}", document)
    try:
        with transaction.atomic():
            submission = KYCSubmission.objects.create(
                user=user, id_type=id_type, id_number_masked=identity_mask(number),
                id_number_hmac=identity_digest(id_type=id_type, id_number=number), date_of_birth=date_of_birth,
                requested_tier=requested, document=stored_name,
                document_content_type=kind[0] if kind else "", document_size=document.size if document else None,
                resubmission_of=resubmission_of,
            )
            audit_record(
                action="kyc.submit", actor=actor or Actor.for_user(user), target=submission,
                changes={"id_type": [None, id_type], "requested_tier": [None, requested],
                         "resubmission_of": [None, resubmission_of.pk if resubmission_of else None]},
            )
    except IntegrityError as exc:
        if stored_name:
            default_storage.delete(stored_name)
        raise InvalidState("A KYC submission is already waiting for review, or this one was already resubmitted.") from exc
    return submission


def kyc_resubmit(*, user: User, submission_id: int, actor: Actor | None = None, **fields: Any) -> KYCSubmission:
    """A new submission replacing a rejected one (the rejected one stays, for the record)."""
    previous = KYCSubmission.objects.filter(pk=submission_id, user=user).first()
    if previous is None:
        raise NotFound("No such KYC submission.")
    if previous.status != KYCSubmission.Status.REJECTED or hasattr(previous, "resubmission"):
        raise InvalidState("Only a rejected submission can be resubmitted, once.")
    return kyc_submit(user=user, resubmission_of=previous, actor=actor, **fields)


def _decide(*, staff: Actor, submission_id: int, status: str, reason: str, tier: int | None = None) -> KYCSubmission:
    now = timezone.now()
    updated = KYCSubmission.objects.filter(pk=submission_id, status=KYCSubmission.Status.PENDING).update(
        status=status, decided_at=now, decided_by_id=staff.user_id, decision_reason=reason, granted_tier=tier
    )
    submission = KYCSubmission.objects.select_related("user").filter(pk=submission_id).first()
    if submission is None:
        raise NotFound("No such KYC submission.")
    if not updated:
        raise InvalidState(f"This submission is already {submission.status}.")
    return submission


def kyc_approve(*, staff: Actor, submission_id: int, reason: str, tier: int | None = None) -> KYCSubmission:
    """Approve and raise the user's tier to the granted one (default: the requested tier;
    never lowered by an approval). Conditional update pending -> approved; the user row is
    locked while its tier changes. Audited; the user is e-mailed."""
    if not (reason or "").strip():
        raise ReasonRequired()
    if tier is not None and tier not in (1, 2, 3):
        raise ApiError(code="VALIDATION_ERROR", errors={"tier": ["1, 2 or 3."]})
    from accounts import tasks

    with transaction.atomic():
        pending = KYCSubmission.objects.filter(pk=submission_id).values_list("requested_tier", flat=True).first()
        granted = tier or pending or 1
        submission = _decide(
            staff=staff, submission_id=submission_id, status=KYCSubmission.Status.APPROVED, reason=reason.strip(),
            tier=granted,
        )
        user = User.objects.select_for_update().get(pk=submission.user_id)
        before = user.kyc_tier
        user.kyc_tier = max(before, granted)
        user.save(update_fields=["kyc_tier"])
        audit_record(
            action="kyc.approve", actor=staff, target=submission, reason=reason.strip(),
            changes={"status": ["pending", "approved"], "kyc_tier": [before, user.kyc_tier]},
        )
        tasks.email_notice_send.delay_on_commit(user.pk, "kyc_approved", {"tier": user.kyc_tier})
    return submission


def kyc_reject(*, staff: Actor, submission_id: int, reason: str) -> KYCSubmission:
    """Reject with a reason the user sees; they may resubmit. Audited; the user is e-mailed."""
    if not (reason or "").strip():
        raise ReasonRequired()
    from accounts import tasks

    with transaction.atomic():
        submission = _decide(
            staff=staff, submission_id=submission_id, status=KYCSubmission.Status.REJECTED, reason=reason.strip()
        )
        audit_record(
            action="kyc.reject", actor=staff, target=submission, reason=reason.strip(),
            changes={"status": ["pending", "rejected"]},
        )
        tasks.email_notice_send.delay_on_commit(submission.user_id, "kyc_rejected", {"reason": reason.strip()})
    return submission


def kyc_submissions_for_user(*, user: User) -> QuerySet[KYCSubmission]:
    return KYCSubmission.objects.filter(user=user).order_by("-created_at", "-id")


def tier_limits(tier: int) -> dict[str, int]:
    """The limits of `tier`, from the same setting `wallets.limits_for_tier` reads."""
    return dict(settings.KYC_TIER_LIMITS_KOBO[tier])


def identity_shared_with(submission: KYCSubmission) -> QuerySet[User]:
    """Other accounts that submitted the same BVN/NIN (for staff reviewing a submission)."""
    return User.objects.filter(
        kyc_submissions__id_number_hmac=submission.id_number_hmac, kyc_submissions__id_type=submission.id_type
    ).exclude(pk=submission.user_id).distinct()
