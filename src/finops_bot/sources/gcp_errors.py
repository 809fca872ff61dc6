"""Google API errors → sentences that say what to do, for every GCP source."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from finops_bot import adaptors
from finops_bot.sources.base import SourceError


@contextmanager
def google_errors(
    source: str, api: str, denied: str, not_found: str | None = None
) -> Iterator[None]:
    """Translate credential, permission, not-found and other API errors inside the block.

    ``denied`` says which role to grant; ``not_found`` what to check, where that applies."""
    gexc = adaptors.google_exceptions
    auth_exc = adaptors.google_auth_exceptions

    try:
        yield
    except auth_exc.DefaultCredentialsError:
        raise SourceError(
            f"{source}: no Google credentials; run `gcloud auth "
            "application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
        ) from None
    except (gexc.Forbidden, gexc.PermissionDenied):
        raise SourceError(f"{source}: access denied; {denied}") from None
    except gexc.NotFound:
        if not_found is None:
            raise SourceError(f"{source}: {api} answered 404 (not found)") from None
        raise SourceError(f"{source}: {not_found}") from None
    except gexc.GoogleAPIError as exc:
        message = getattr(exc, "message", None) or str(exc)
        raise SourceError(f"{source}: {api} said {message}") from None
