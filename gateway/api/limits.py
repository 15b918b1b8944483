"""The configurable request limits, checked before any tokenizing so oversized input costs nothing."""

from gateway.errors import InvalidInput
from gateway.settings import Settings


def check_text_limits(texts: list[str], settings: Settings, field: str) -> None:
    """Raise ``InvalidInput`` naming the first text or list over a limit.

    ``field`` is ``text`` for the single endpoint and ``texts`` for the batch one, so the error
    names the field exactly as the client sent it.
    """
    if field == "texts" and len(texts) > settings.max_texts_per_request:
        raise InvalidInput(
            f"{len(texts)} texts in one request; the limit is {settings.max_texts_per_request} "
            "(GATEWAY_MAX_TEXTS_PER_REQUEST). Split the batch.",
            field="texts",
        )
    for index, text in enumerate(texts):
        if len(text) > settings.max_text_chars:
            raise InvalidInput(
                f"text has {len(text)} characters; the limit is {settings.max_text_chars} (GATEWAY_MAX_TEXT_CHARS)",
                field=field if field == "text" else f"texts[{index}]",
            )
