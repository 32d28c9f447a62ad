"""The v1 HTTP service (FastAPI): routes per resource under ``routes/``, dependencies in ``deps``, schemas in
``schemas``. Build it with :func:`create_app`."""

from matcher.api._app import build_state, create_app
from matcher.api._bulk import prepare_citizens, prepare_employers, prepare_vacancies
from matcher.api._services import EngineLike, NormalizerLike, Services, default_services
from matcher.api.schemas import BulkItemError

__all__ = [
    "BulkItemError",
    "EngineLike",
    "NormalizerLike",
    "Services",
    "build_state",
    "create_app",
    "default_services",
    "prepare_citizens",
    "prepare_employers",
    "prepare_vacancies",
]
